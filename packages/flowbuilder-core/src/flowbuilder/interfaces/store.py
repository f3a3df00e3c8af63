"""The Store interface: where runs, their events, logs, outputs and definitions are kept.

Stores are registered by URL scheme through ``flowbuilder_stores`` (``memory://``,
``rocksdb://PATH``, ``redis://HOST:PORT/DB``) and opened with :meth:`Store.open`. Every
implementation passes the same suite in ``contracts/``.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, ClassVar, Iterator, Sequence

from flowbuilder.annotations import Annotation
from flowbuilder.events import EventKind, RunEvent, RunState, RunStatus, fold_events
from flowbuilder.interfaces.control import ControlChannel

if TYPE_CHECKING:
    from flowbuilder.subscriptions import RunUpdate


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
        """Fold the events that change a summary (run created, started, finished)."""
        for event in events:
            kind = event.kind
            if kind is EventKind.RUN_CREATED:
                self.workflow = event.data.get("workflow")
                self.version = event.data.get("version")
                self.definition_hash = event.data.get("definition_hash")
                self.created_at = event.time
            elif kind is EventKind.RUN_STARTED:
                self.status = RunStatus.RUNNING
            elif kind is EventKind.RUN_FINISHED:
                self.status = RunStatus(event.data["status"])
                self.finished_at = event.time
        if events:
            self.last_seq = events[-1].seq

    def to_dict(self) -> dict[str, Any]:
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
        return cls(**{**data, "status": RunStatus(data["status"])})


@dataclass(slots=True)
class RunPage:
    """One page of a run listing; pass ``next_cursor`` back for the next (None: last page)."""

    runs: list[RunSummary]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line a task attempt wrote. ``stream`` is ``stdout``, ``stderr`` or ``system``."""

    task: str
    attempt: int
    stream: str
    text: str
    time: float = field(default_factory=time.time)


def definition_hash(content: bytes) -> str:
    """The content address of a workflow definition (hex SHA-256)."""
    return hashlib.sha256(content).hexdigest()


class Store(ControlChannel, ABC):
    """Durable (or, for ``memory://``, throwaway) home of runs.

    Guarantees every implementation gives (and ``contracts/`` checks):

    * :meth:`append_events` is atomic and conditional: a batch is written whole or not at
      all, and only if ``expected_seq`` equals the run's last sequence number, otherwise
      :class:`~flowbuilder.errors.SequenceConflictError`. Events must be numbered
      ``expected_seq + 1, + 2, ...``.
    * reads return events in sequence order; a run's summary reflects every appended event.
    * logs come back in the order they were appended; blobs byte for byte.
    * values are stored in a documented, non-executable encoding; nothing is unpickled.
    * annotations (:meth:`annotate`) are a second key space of a run: any number of writers
      add them, live or after the run finished, and they never change the run's event
      sequence, so they never cause a :class:`~flowbuilder.errors.SequenceConflictError`.
    * :meth:`subscribe` pushes a run's new events and annotations to the subscriber as they
      are appended (from any process sharing the store), ending after ``run_finished``.
    * control requests (:meth:`request_control`) are a third key space of a run, and the
      owner's lease (:meth:`renew_leases`) one record per run: the control role, declared in
      :class:`~flowbuilder.interfaces.control.ControlChannel` (its docstring states the rules).

    Thread safety: one open store may be used from several threads at once.

    Methods added after 0.2 (:meth:`annotate`, :meth:`read_annotations`,
    :meth:`wait_for_updates`, :meth:`subscribe`, and the control role's
    :meth:`request_control`, :meth:`read_control_requests`, :meth:`wait_for_control`,
    :meth:`renew_leases`, :meth:`read_lease`) have defaults, so a store written for 0.2
    keeps working: it subscribes through its own :meth:`wait_for_events`, reports that it
    keeps no annotations or control requests, and keeps no leases until it overrides them
    (see docs/plugins.md, "Subscriptions and annotations" and "Control requests and leases").
    """

    scheme: ClassVar[str]
    default_priority: ClassVar[int] = 0
    """Which installed store is the default when none is configured: the highest wins."""
    default_url: ClassVar[str] = ""
    """The URL opened when this store is the default; empty means ``SCHEME://``."""

    @classmethod
    @abstractmethod
    def open(cls, url: str) -> Store:
        """Open (creating if needed) the store at ``url``; raise StoreError with advice if it cannot."""

    # -- events ---------------------------------------------------------------------------

    @abstractmethod
    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int) -> int:
        """Append a batch atomically if the run's last seq is ``expected_seq``; return the new last seq."""

    @abstractmethod
    def read_events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[RunEvent]:
        """Events with ``seq > after_seq``, oldest first, at most ``limit`` of them."""

    @abstractmethod
    def last_seq(self, run_id: str) -> int:
        """The run's last sequence number (0 if it has no events)."""

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> list[RunEvent]:
        """Events after ``after_seq``, waiting up to ``timeout`` seconds for the first to arrive.

        The default polls; stores with a notification mechanism override it.
        """
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            events = self.read_events(run_id, after_seq)
            if events or time.monotonic() >= deadline:
                return events
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.25)

    def wait_for_updates(self, run_id: str, after_seq: int, after_annotation: int,
                         timeout: float) -> tuple[list[RunEvent], list[Annotation]]:  # fmt: skip
        """Events after ``after_seq`` and annotations after ``after_annotation``, waiting up to
        ``timeout`` seconds for the first of either to arrive; ``([], [])`` when none came.

        This is the blocking step of :meth:`subscribe`; it must return as soon as either kind
        is appended, by any writer of the store. The default waits in :meth:`wait_for_events`
        (so a new annotation alone is seen within ``timeout``); our stores override it.
        """
        events = self.wait_for_events(run_id, after_seq, timeout)
        return events, self.read_annotations(run_id, after_annotation)

    def subscribe(self, run_id: str, after_seq: int = 0, after_annotation: int = 0) -> AsyncIterator[RunUpdate]:
        """Follow a run live: an async iterator of :class:`~flowbuilder.subscriptions.RunUpdate`.

        Each batch holds the events (``seq > after_seq``, in order, none skipped or repeated)
        and annotations (``number > after_annotation``) that arrived since the previous
        batch, pushed as they are appended rather than polled. The iterator ends after the
        batch holding ``run_finished``; for a run already finished at ``after_seq`` it yields
        the remaining annotations, if any, and ends. A run that does not exist yet is waited
        for (check :meth:`get_run` first to refuse unknown ids). If the store breaks for
        longer than it retries, iteration raises its one-line
        :class:`~flowbuilder.errors.StoreError`. Each active subscription blocks one worker
        thread of the event loop's default executor while it waits.
        """
        from flowbuilder.subscriptions import follow

        return follow(self, run_id, after_seq, after_annotation)

    # -- annotations ----------------------------------------------------------------------

    def annotate(self, run_id: str, annotation: Annotation) -> Annotation:
        """Attach ``annotation`` to the run (live or finished); return it with its ``number``.

        Never conflicts with the run's event appends. :class:`~flowbuilder.errors.RunNotFoundError`
        for an unknown run; :class:`~flowbuilder.errors.StoreError` for an annotation that
        :func:`~flowbuilder.annotations.encode_annotation` refuses (bad kind, not JSON, over
        :data:`~flowbuilder.annotations.MAX_ANNOTATION_BYTES`). The default refuses: the store
        keeps no annotations.
        """
        from flowbuilder.errors import StoreError

        raise StoreError(f"the {self.scheme}:// store does not keep annotations (its plugin predates them);"
                         " upgrade the plugin or use another store")  # fmt: skip

    def read_annotations(self, run_id: str, after: int = 0) -> list[Annotation]:
        """The run's annotations numbered above ``after``, in number order (empty if none or unknown run)."""
        return []

    # -- snapshots and state --------------------------------------------------------------

    @abstractmethod
    def save_snapshot(self, state: RunState) -> None:
        """Keep ``state`` (the fold up to ``state.seq``) to shorten later folds."""

    @abstractmethod
    def load_snapshot(self, run_id: str) -> RunState | None:
        """The newest snapshot of the run, or None."""

    def load_state(self, run_id: str) -> RunState:
        """The run's current state: the newest snapshot plus the events after it."""
        snapshot = self.load_snapshot(run_id)
        after = snapshot.seq if snapshot is not None else 0
        events = self.read_events(run_id, after)
        if snapshot is None and not events:
            from flowbuilder.errors import RunNotFoundError

            raise RunNotFoundError(run_id)
        return fold_events(run_id, events, snapshot)

    # -- runs -----------------------------------------------------------------------------

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
        """Runs newest first (by creation time, then id), filtered; pages are stable under appends."""

    @abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Remove the run with its events, annotations, control requests, lease, snapshots, logs and blobs
        (no error if unknown)."""

    # -- definitions, logs, blobs ---------------------------------------------------------

    @abstractmethod
    def save_definition(self, content: bytes) -> str:
        """Keep a workflow definition by content; return its hash (:func:`definition_hash`)."""

    @abstractmethod
    def load_definition(self, digest: str) -> bytes:
        """The definition with this hash; :class:`~flowbuilder.errors.StoreError` if unknown."""

    @abstractmethod
    def append_logs(self, run_id: str, lines: Sequence[LogLine]) -> None:
        """Append log lines of a run (any tasks), keeping their order."""

    @abstractmethod
    def read_logs(self, run_id: str, task: str | None = None, after: int = 0) -> list[LogLine]:
        """The run's log lines (of one task if given), skipping the first ``after`` of them."""

    @abstractmethod
    def put_blob(self, run_id: str, name: str, data: bytes) -> str:
        """Keep a large value of a run; return a reference for :meth:`get_blob`."""

    @abstractmethod
    def get_blob(self, ref: str) -> bytes:
        """The bytes behind a reference from :meth:`put_blob`; StoreError if gone."""

    # -- bulk export (analytics) ----------------------------------------------------------

    def export_events(self, run_ids: Sequence[str] | None = None) -> tuple[list[str], bytes]:
        """Stored events in bulk: ``(run ids, their events as NDJSON, run after run)``.

        Each line is :func:`~flowbuilder.events.encode_event` of one event; runs without
        events are left out of both. ``None`` means every run. ``flowbuilder stats`` reads
        history through it. The default reads run after run with :meth:`read_events`;
        stores that keep the encoded bytes override it to hand them over directly.
        """
        from flowbuilder.events import encode_event

        if run_ids is None:
            run_ids = self._all_run_ids()
        chosen: list[str] = []
        lines: list[bytes] = []
        for run_id in run_ids:
            events = self.read_events(run_id)
            if events:
                chosen.append(run_id)
                lines.extend(encode_event(event) for event in events)
        return chosen, b"\n".join(lines)

    def export_event_chunks(self) -> Iterator[tuple[list[str], bytes]]:
        """:meth:`export_events` of every run, in pieces a reader can parse while the next is read.

        Default: one piece, ``export_events()``. Override when the store can read in pieces.
        """
        yield self.export_events()

    def _all_run_ids(self) -> list[str]:
        ids: list[str] = []
        cursor: str | None = None
        while True:
            page = self.list_runs(limit=1000, cursor=cursor)
            ids.extend(summary.run_id for summary in page.runs)
            if page.next_cursor is None:
                return ids
            cursor = page.next_cursor

    def close(self) -> None:
        """Flush and release the store (idempotent)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
