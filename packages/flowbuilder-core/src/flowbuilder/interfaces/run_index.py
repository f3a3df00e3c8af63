"""The run index role of a store: which runs exist, their summaries, listing and deletion.

``flowbuilder runs list`` and the UI's run table need only this role, so they can type
against :class:`RunIndex`. The summaries are kept current by the store as events are
appended (:meth:`RunSummary.apply`), so listing never folds events.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter
from typing import Any, Sequence

from flowbuilder.events import EventKind, RunEvent, RunStatus

SUMMARY_KINDS = frozenset({EventKind.RUN_CREATED, EventKind.RUN_STARTED, EventKind.RUN_FINISHED})
"""The kinds :meth:`RunSummary.apply` folds; every other event only moves ``last_seq`` (a store
that looks at every event anyway may pick these out itself and pass only them)."""
_KIND_OF = attrgetter("kind")


@dataclass(slots=True)
class RunSummary:
    """What run listings show, kept current by the store as events are appended."""

    run_id: str
    workflow: str | None = None
    version: str | None = None
    status: RunStatus = RunStatus.PENDING
    created_at: float = 0.0
    finished_at: float | None = None
    last_seq: int = 0
    definition_hash: str | None = None

    def apply(self, events: Sequence[RunEvent]) -> None:
        """Fold the events that change a summary (run created, started, finished).

        Stores call it with every appended batch, thousands of task events that change
        nothing here: they are passed over at C speed (``compress``), only run events are looked at.
        """
        for event in compress(events, map(SUMMARY_KINDS.__contains__, map(_KIND_OF, events))):
            kind = event.kind
            if kind is EventKind.RUN_CREATED:
                self.workflow = event.data.get("workflow")
                self.version = event.data.get("version")
                self.definition_hash = event.data.get("definition_hash")
                self.created_at = event.time
            elif kind is EventKind.RUN_STARTED:
                self.status = RunStatus.RUNNING
                self.finished_at = None  # a retried run runs again (`flowbuilder retry`)
            elif kind is EventKind.RUN_FINISHED:
                self.status = RunStatus(event.data["status"])
                self.finished_at = event.time
        if events:
            self.last_seq = events[-1].seq

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values (``status`` as its string)."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "status": self.status.value,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "last_seq": self.last_seq,
            "definition_hash": self.definition_hash,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "status": RunStatus(data["status"])})


@dataclass(slots=True)
class RunPage:
    """One page of a run listing; pass ``next_cursor`` back for the next (None: last page)."""

    runs: list[RunSummary]
    next_cursor: str | None = None


class RunIndex(ABC):
    """Runs by id: summaries, filtered and paged listings, deletion."""

    @abstractmethod
    def get_run(self, run_id: str) -> RunSummary:
        """The run's summary; :class:`~flowbuilder.errors.RunNotFoundError` if unknown."""

    @abstractmethod
    def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: RunStatus | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        """Runs newest first (by creation time, then id), filtered; pages are stable under appends.

        :mod:`flowbuilder.stores.paging` implements the order and the cursors, so that a
        cursor means the same in every store.
        """

    @abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Remove the run with its events, annotations, control requests, lease, snapshots, logs and blobs
        (no error if unknown)."""


__all__ = ["RunIndex", "RunPage", "RunSummary"]
