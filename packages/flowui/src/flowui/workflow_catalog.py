"""Named, numbered versions of workflow definitions, kept in the run store.

Core keeps definitions by content hash (:class:`~flowbuilder.interfaces.definitions.DefinitionStore`,
what a run records and a resume reads back) but no names or version numbers. The server's
"store a new version" and "list versions" need both, so this module adds them on top of
core's public store roles, without a store format of its own:

* the text goes to :meth:`save_definition` (the same hash a run of it records);
* version ``n`` of workflow ``name`` is the claimed key ``flowui:workflow:<name>:<n>``
  (:meth:`~flowbuilder.interfaces.coordination.CoordinationStore.claim_key`), whose value
  is a small JSON record (hash, the file's own ``version:``, when). Claims are atomic in
  every store, so two servers storing at once get two different numbers, never one
  overwritten;
* the names are the claimed keys ``flowui:workflow-name:<i>``, i = 1, 2, ...

Listing reads keys 1, 2, ... until the first missing one: one store read per version, fine
for the tens or hundreds of versions a workflow gathers. Any store that passes the Store
contract's coordination suite (memory, RocksDB, Redis) keeps them; one that predates it
refuses with its one-line :class:`~flowbuilder.errors.StoreError`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowbuilder import Store

_VERSION_KEY = "flowui:workflow:{name}:{number}"
_NAME_KEY = "flowui:workflow-name:{index}"


class UnknownWorkflowError(LookupError):
    """No stored workflow (or version) by that name; the message says which."""


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    """One stored version: ``number`` counts 1, 2, ... per workflow name."""

    workflow: str
    number: int
    definition_hash: str
    declared_version: str
    stored_at: float


def list_versions(store: Store, workflow: str) -> list[WorkflowVersion]:
    """The stored versions of ``workflow``, oldest first (empty for an unknown name)."""
    versions: list[WorkflowVersion] = []
    while True:
        raw = store.read_record(_VERSION_KEY.format(name=workflow, number=len(versions) + 1))
        if raw is None:
            return versions
        versions.append(_decode(workflow, len(versions) + 1, raw))


def get_version(store: Store, workflow: str, number: int = 0) -> WorkflowVersion:
    """Version ``number`` of ``workflow`` (0: the newest); :class:`UnknownWorkflowError` if none."""
    if number > 0:
        raw = store.read_record(_VERSION_KEY.format(name=workflow, number=number))
        if raw is None:
            raise UnknownWorkflowError(f"workflow {workflow!r} has no version {number}; list them with ListVersions")
        return _decode(workflow, number, raw)
    versions = list_versions(store, workflow)
    if not versions:
        raise UnknownWorkflowError(f"no stored workflow {workflow!r}; store it first (StoreWorkflow)")
    return versions[-1]


def list_workflows(store: Store) -> list[str]:
    """Every workflow name that was stored, in the order first stored."""
    names: list[str] = []
    index = 1
    while (name := store.read_record(_NAME_KEY.format(index=index))) is not None:
        if name not in names:  # two servers storing a new name at once may both list it
            names.append(name)
        index += 1
    return names


def store_version(store: Store, workflow: str, content: bytes, declared_version: str) -> tuple[WorkflowVersion, bool]:
    """Keep ``content`` (already validated) as the next version of ``workflow``.

    Returns the version and whether it is new: the same text as the newest version is that
    version again (``False``). The name is listed before the version is claimed, so a
    process killed in between leaves a listed name with no version (listings skip it),
    never a version no listing shows.
    """
    digest = store.save_definition(content)
    versions = list_versions(store, workflow)
    if versions and versions[-1].definition_hash == digest:
        return versions[-1], False
    if not versions:
        _list_name(store, workflow)
    number = len(versions) + 1
    record = json.dumps({"hash": digest, "declared": declared_version, "at": time.time()}, separators=(",", ":"))
    while True:
        holder = store.claim_key(_VERSION_KEY.format(name=workflow, number=number), record)
        if holder == record:
            return _decode(workflow, number, record), True
        number += 1  # another writer took this number first: the next one is ours


def _list_name(store: Store, workflow: str) -> None:
    names = list_workflows(store)
    if workflow in names:
        return
    index = len(names) + 1
    while True:
        holder = store.claim_key(_NAME_KEY.format(index=index), workflow)
        if holder == workflow:
            return
        index += 1


def _decode(workflow: str, number: int, raw: str) -> WorkflowVersion:
    record = json.loads(raw)
    return WorkflowVersion(workflow, number, record["hash"], record.get("declared", ""), record["at"])


__all__ = [
    "UnknownWorkflowError",
    "WorkflowVersion",
    "get_version",
    "list_versions",
    "list_workflows",
    "store_version",
]
