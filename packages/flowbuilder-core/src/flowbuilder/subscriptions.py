"""Following a run live: what :meth:`Store.subscribe` yields, and the loop behind it.

A subscription is an async iterator of :class:`RunUpdate` batches — the events and the
annotations that arrived since the previous batch, in order. It is pushed, not polled: each
turn blocks (on a worker thread, so the event loop stays free) in the store's
:meth:`~flowbuilder.interfaces.Store.wait_for_updates`, which the store wakes when a writer
appends — a condition variable in one process, the owner's socket for a routed RocksDB
store, pub/sub on Redis. The wait is cut into turns of :data:`WAIT_TURN_SECONDS` so that a
subscriber whose store broke (a dead Redis, a killed RocksDB owner) notices: the store
reconnects, or the subscription ends with the store's one-line :class:`StoreError`.

:func:`follow_logs` follows a run's log lines the same way: a store wakes
``wait_for_updates`` on a log-only append too (Store contract 9), so lines a task prints
between events arrive at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, AsyncIterator

from flowbuilder.annotations import Annotation
from flowbuilder.errors import RunNotFoundError
from flowbuilder.events import EventKind, RunEvent

if TYPE_CHECKING:
    from flowbuilder.interfaces.event_log import EventLog
    from flowbuilder.interfaces.logs import LogLine
    from flowbuilder.interfaces.store import Store

WAIT_TURN_SECONDS = 1.0
"""Longest single blocking wait of a subscription (bounds how late a broken store is noticed)."""
MAX_LOG_BATCH = 1000
"""Most lines in one batch of :func:`follow_logs` (a run's long history comes in several)."""
_NO_ANNOTATIONS = 1 << 62


@dataclass(frozen=True, slots=True)
class RunUpdate:
    """One batch of a subscription: new events (in seq order) and new annotations (in number order)."""

    events: list[RunEvent] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether this batch holds the run's ``run_finished`` event (the subscription's last batch)."""
        return any(event.kind is EventKind.RUN_FINISHED for event in self.events)


def _finished_at_or_before(store: EventLog, run_id: str, after_seq: int) -> bool:
    """Whether the run has finished and has no events after ``after_seq`` (nothing more will come).

    A full store answers from its run index; an event log alone, from the run's last event.
    """
    from flowbuilder.interfaces.run_index import RunIndex

    if not isinstance(store, RunIndex):
        last = store.last_seq(run_id)
        tail = store.read_events(run_id, last - 1, 1) if 0 < last <= after_seq else []
        return bool(tail) and tail[-1].kind is EventKind.RUN_FINISHED
    try:
        summary = store.get_run(run_id)
    except RunNotFoundError:
        return False  # not created yet: a subscriber may start before the run does
    return summary.status.finished and summary.last_seq <= after_seq


async def follow(store: EventLog, run_id: str, after_seq: int = 0, after_annotation: int = 0,
                 turn_seconds: float = WAIT_TURN_SECONDS) -> AsyncIterator[RunUpdate]:  # fmt: skip
    """The default :meth:`Store.subscribe`: batches until the one holding ``run_finished``.

    For a run that finished at or before ``after_seq`` it yields the annotations after
    ``after_annotation`` (if any) and ends. For a run that does not exist yet it waits.
    """
    seq, number = after_seq, after_annotation
    if await asyncio.to_thread(_finished_at_or_before, store, run_id, seq):
        late = await asyncio.to_thread(store.read_annotations, run_id, number)
        if late:
            yield RunUpdate([], late)
        return
    while True:
        events, notes = await asyncio.to_thread(store.wait_for_updates, run_id, seq, number, turn_seconds)
        if not events and not notes:
            continue
        if events:
            seq = events[-1].seq
        if notes:
            number = notes[-1].number
        update = RunUpdate(events, notes)
        yield update
        if update.finished:
            return


def _run_finished(store: Store, run_id: str) -> bool:
    """Whether the run has finished (False for a run not created yet)."""
    try:
        return store.get_run(run_id).status.finished
    except RunNotFoundError:
        return False


async def follow_logs(store: Store, run_id: str, task: str | None = None, after_line: int = 0,
                      turn_seconds: float = WAIT_TURN_SECONDS) -> AsyncIterator[list[tuple[int, LogLine]]]:  # fmt: skip
    """Follow a run's log lines live: batches of ``(number, line)``, numbered from 1 in the order
    :meth:`~flowbuilder.interfaces.logs.LogStore.read_logs` returns them (of ``task`` only if
    given), starting after line ``after_line``.

    History first, then live: each turn blocks in the store's ``wait_for_updates``, which a
    new event or a log-only append wakes (Store contract 9). A batch holds at most
    :data:`MAX_LOG_BATCH` lines. It ends once the run has finished and every line it wrote
    has been yielded; a run that does not exist yet is waited for (check ``get_run`` first).
    A line appended between a turn's read and its wait shows at the latest after
    ``turn_seconds``, when the turn ends.
    """
    number = after_line
    seq = await asyncio.to_thread(store.last_seq, run_id)
    while True:
        finished = await asyncio.to_thread(_run_finished, store, run_id)  # before the read: no line is left behind
        lines = await asyncio.to_thread(store.read_logs, run_id, task, number)
        for start in range(0, len(lines), MAX_LOG_BATCH):
            chunk = lines[start : start + MAX_LOG_BATCH]
            yield [(number + offset, line) for offset, line in enumerate(chunk, 1)]
            number += len(chunk)
        if finished:
            return
        events, _ = await asyncio.to_thread(store.wait_for_updates, run_id, seq, _NO_ANNOTATIONS, turn_seconds)
        if events:
            seq = events[-1].seq


__all__ = [
    "MAX_LOG_BATCH",
    "RunUpdate",
    "WAIT_TURN_SECONDS",
    "follow",
    "follow_logs",
]
