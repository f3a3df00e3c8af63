"""Stored workflow versions: numbered definitions per workflow name, kept in the store.

Core stores definitions by content hash (:meth:`save_definition
<flowbuilder.interfaces.definitions.DefinitionStore.save_definition>`) but keeps no list
of workflows or versions, so this registry numbers them with the store's coordination
records: version ``N`` of workflow ``W`` is the key ``flowui:workflow:W:version:N``, taken
with :meth:`claim_key <flowbuilder.interfaces.coordination.CoordinationStore.claim_key>`
(exactly one of racing writers gets a number, so two servers on one Redis never give two
definitions the same number), and each newly seen name takes the next
``flowui:workflow-name:I`` the same way. Records survive restarts and run deletion. Saving
the definition that is already the latest version returns that version instead of adding
one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store

PREFIX = "flowui:"


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    """One stored version: its number (1-based), the definition's hash, the file's own ``version:``."""

    workflow: str
    number: int
    definition: str
    version: str | None
    saved_at: float

    def to_dict(self) -> dict[str, object]:
        return {"workflow": self.workflow, "number": self.number, "definition": self.definition,
                "version": self.version, "saved_at": self.saved_at}  # fmt: skip


def _version_key(workflow: str, number: int) -> str:
    return f"{PREFIX}workflow:{workflow}:version:{number}"


def _name_key(index: int) -> str:
    return f"{PREFIX}workflow-name:{index}"


class WorkflowVersions:
    """Numbered versions of workflows in one store (blocking store calls: call off the event loop)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def versions(self, workflow: str) -> list[WorkflowVersion]:
        """Every stored version of ``workflow``, oldest first (empty when none)."""
        found: list[WorkflowVersion] = []
        number = 1
        while (raw := self.store.read_record(_version_key(workflow, number))) is not None:
            record = json.loads(raw)
            found.append(WorkflowVersion(workflow, number, record["definition"], record.get("version"),
                                         record["saved_at"]))  # fmt: skip
            number += 1
        return found

    def latest(self, workflow: str) -> WorkflowVersion | None:
        versions = self.versions(workflow)
        return versions[-1] if versions else None

    def names(self) -> list[str]:
        """Names of the workflows with stored versions, in the order they were first stored."""
        names: list[str] = []
        index = 1
        while (name := self.store.read_record(_name_key(index))) is not None:
            names.append(name)
            index += 1
        return names

    def add(self, workflow: str, definition: str, version: str | None) -> WorkflowVersion:
        """Record ``definition`` (a saved definition's hash) as the next version of ``workflow``."""
        existing = self.versions(workflow)
        if existing and existing[-1].definition == definition:
            return existing[-1]
        number = len(existing) + 1
        while True:
            record = json.dumps({"definition": definition, "version": version, "saved_at": time.time()})
            holder = self.store.claim_key(_version_key(workflow, number), record)
            if holder == record:
                break
            number += 1  # another writer took this number first
        if number == 1:
            self._add_name(workflow)
        return WorkflowVersion(workflow, number, definition, version, json.loads(record)["saved_at"])

    def _add_name(self, workflow: str) -> None:
        index = 1
        while self.store.claim_key(_name_key(index), workflow) != workflow:
            index += 1


__all__ = ["WorkflowVersion", "WorkflowVersions"]
