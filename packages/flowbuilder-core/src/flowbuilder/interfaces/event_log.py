"""The event log role of a store: a run's numbered events, snapshots of their fold, and live following.

A run is its events (:mod:`flowbuilder.events`); this role appends them under optimistic
concurrency, reads them back, pushes new ones to subscribers and keeps snapshots that only
shorten the fold. Subscribers also receive the run's annotations, so the role includes the
annotation key space (:class:`~flowbuilder.interfaces.annotation_store.AnnotationStore`).
A live monitor or an anomaly scorer types against :class:`EventLog`.

Rules of :meth:`EventLog.append_events` (the Store contract checks each):

* **Expected sequence first.** The store compares ``expected_seq`` with the run's last
  sequence number before it looks at the batch: when they differ the call raises
  :class:`~flowbuilder.errors.SequenceConflictError` (with ``expected_seq`` and
  ``actual_seq``), even if the batch is also numbered wrongly — the caller's view of the run
  is stale, and that is the error it can act on (reload and retry).
* **Then the numbering.** With the right ``expected_seq``, events must be numbered
  ``expected_seq + 1, + 2, ...`` and belong to ``run_id``; otherwise a plain
  :class:`~flowbuilder.errors.StoreError` (not a conflict: retrying the same batch cannot help).
* **All or nothing.** A refused batch writes none of its events; an empty batch writes
  nothing and returns the last sequence number.
* **One winner.** Of several writers (threads or processes) appending at the same
  ``expected_seq``, exactly one succeeds; the others get the conflict.

Fenced appends (:meth:`EventLog.append_fenced_events`, Store contract version 7) add one
rule before all of these: the store keeps the highest fencing token it has seen per scope
(:mod:`flowbuilder.fencing`) and refuses, with :class:`~flowbuilder.errors.StaleLeaderError`
and writing nothing, a batch whose token is lower; otherwise it records the token (when
higher) and the batch, in one atomic step. A refused fence wins over every other error.
Plain :meth:`~EventLog.append_events` never looks at fences.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import TYPE_CHECKING, AsyncIterator, Sequence

from flowbuilder.events import RunEvent, RunState, fold_events
from flowbuilder.interfaces.annotation_store import AnnotationStore

if TYPE_CHECKING:
    from flowbuilder.annotations import Annotation
    from flowbuilder.fencing import Fence
    from flowbuilder.subscriptions import RunUpdate


class EventLog(AnnotationStore):
    """Events of runs: conditional appends, ordered reads, waiting, subscriptions and snapshots."""

    @abstractmethod
    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int) -> int:
        """Append a batch atomically if the run's last seq is ``expected_seq``; return the new last seq.

        See the module docstring for which error wins when both ``expected_seq`` and the
        numbering are wrong.
        """

    # -- fencing (a deposed leader's writes are refused) ------------------------------------

    def append_fenced_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int, fence: Fence) -> int:
        """:meth:`append_events`, refused with :class:`~flowbuilder.errors.StaleLeaderError` when
        ``fence.token`` is lower than the highest token the store has seen for ``fence.scope``.

        Atomic: the fence is checked and (if higher) recorded together with the batch, so no
        append of a lower token lands after a higher one was seen, whichever process makes
        it. The fence is checked first; a batch refused for any other reason (conflict,
        numbering) records no fence. An empty batch records the fence and returns the last
        sequence number. The default refuses: a store that predates fencing cannot host
        fenced (cluster-led) runs.
        """
        raise self._no_fencing()

    def raise_fence(self, fence: Fence) -> int:
        """Record ``fence.token`` as the highest of ``fence.scope`` unless a higher one is there;
        return the highest afterwards. Raises :class:`~flowbuilder.errors.StaleLeaderError`
        when a higher token is recorded (the caller was deposed).

        A new leader calls it before it resumes anything, so its predecessor's very next
        fenced append is refused, even for a run the new leader has not touched yet.
        """
        raise self._no_fencing()

    def read_fence(self, scope: str) -> int | None:
        """The highest token recorded for ``scope``, or None when none was."""
        raise self._no_fencing()

    def _no_fencing(self) -> Exception:
        from flowbuilder.errors import StoreError

        return StoreError(f"the {self.scheme}:// store keeps no fencing tokens (its plugin predates them), so runs led"
                          " by a scheduler cluster cannot be recorded there; upgrade the plugin or use rocksdb://,"
                          " redis://")  # fmt: skip

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
        is appended, by any writer of the store. A store that also holds the run's logs returns
        (``([], [])`` if nothing else came) as soon as log lines of the run are appended, so a
        log follower (:func:`~flowbuilder.subscriptions.follow_logs`) waits here too (Store
        contract version 9). The default waits in :meth:`wait_for_events`
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
        for (check :meth:`~flowbuilder.interfaces.run_index.RunIndex.get_run` first to refuse
        unknown ids). If the store breaks for longer than it retries, iteration raises its
        one-line :class:`~flowbuilder.errors.StoreError`. Each active subscription blocks one
        worker thread of the event loop's default executor while it waits.
        """
        from flowbuilder.subscriptions import follow

        return follow(self, run_id, after_seq, after_annotation)

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


__all__ = ["EventLog"]
