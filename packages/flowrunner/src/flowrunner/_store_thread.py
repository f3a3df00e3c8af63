"""Store appends on a worker thread, so a slow or reconnecting store never blocks the event loop.

A store call may wait a long time: Redis retries a lost connection for its whole retry
budget, RocksDB may wait on the disk. Made on the event loop's thread, that wait froze every
run, timer and cancel of the process. Here each open store gets one daemon thread (not one
per run: a process may hold ten thousand small runs at once) that appends the batches the
runs hand over, in the order they were handed over. The thread is one of flowrunner's
service threads, taken while a run uses the store and given back a moment (:data:`LINGER_SECONDS`)
after none does, so a run does not start a thread of its own, and the next of runs made one
after another finds it still serving (issue 10). A run's batches that queued up while the
store was slow go out as one ``append_logs`` and one ``append_events`` call, so a slow store
gets fewer, larger appends rather than a growing backlog of small ones.

The loop side (:class:`RunChannel`) counts what a run handed over and what was stored, so
the run can wait for room (back-pressure: the run waits, the loop does not). Everything the
thread reports back — events stored, or the store's error — arrives as a callback on the
run's loop, so sinks still run on the loop's thread and only after their events are stored.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Callable, Sequence

from flowrunner._daemon_threads import start_service

if TYPE_CHECKING:
    from flowbuilder.events import RunEvent
    from flowbuilder.fencing import Fence
    from flowbuilder.interfaces import LogLine, Store
    from flowbuilder.leases import RunLease

MAX_UNSTORED = 16384
"""Events and log lines a run may have handed to its store's thread and not yet seen stored.

Past this the run's scheduler starts nothing new until the store catches up (to half of it),
which bounds a run's memory when its store is slow."""

LINGER_SECONDS = 0.01
"""How long a store's thread waits for the next run once no run uses the store, before it goes
back to the service pool. A process that runs small workflows one after another (a service,
a loop over ``Engine.run``) starts the next run well within this: it finds the thread still
serving the store, and neither the last run's release nor the next run's start wakes a thread
(two hand-offs per run, 50-100 µs of wall each on a 2-core machine: issue 10). A thread that
waits with no run wakes once per interval to see whether one is left."""
_REGISTRY_LOCK = threading.Lock()
_THREADS: dict[int, _StoreThread] = {}


class _StoreThread:
    """One daemon thread for one open store, shared by every run writing to that store.

    The thread is a service pool's (:func:`~flowrunner._daemon_threads.service_threads`): its
    loop ends :data:`LINGER_SECONDS` after no run uses the store, and a later run's loop, on
    this store or another, takes the same thread instead of starting one."""

    def __init__(self, store: Store):
        self.store = store
        self.condition = threading.Condition()
        self.jobs: deque[tuple[RunChannel, list[LogLine], list[RunEvent]]] = deque()
        self.users = 0
        start_service(f"flowrunner-store-{type(store).__name__}", self._work)

    def put(self, channel: RunChannel, logs: list[LogLine], events: list[RunEvent]) -> None:
        with self.condition:
            self.jobs.append((channel, logs, events))
            self.condition.notify()

    def _work(self) -> None:
        while True:
            with self.condition:
                while not self.jobs:
                    if not self.condition.wait(LINGER_SECONDS) and self.users == 0:
                        break  # no run has used the store for a while: give the thread back
                taken = list(self.jobs)
                self.jobs.clear()
            if not taken:
                with _REGISTRY_LOCK, self.condition:  # the lock order of acquire()
                    if self.users == 0 and not self.jobs:
                        _THREADS.pop(id(self.store), None)
                        return
                continue
            merged: dict[RunChannel, tuple[list[LogLine], list[RunEvent], int]] = {}
            for channel, logs, events in taken:
                known = merged.get(channel)
                if known is None:  # the common case: one batch per run, sent as it is
                    merged[channel] = (logs, events, len(logs) + len(events))
                else:  # the store was slow and batches queued up: one append for all of them
                    merged[channel] = (known[0] + logs, known[1] + events, known[2] + len(logs) + len(events))
            reports: dict[asyncio.AbstractEventLoop, list[tuple[RunChannel, list[RunEvent], int]]] = {}
            for channel, (logs, events, count) in merged.items():
                reports.setdefault(channel.loop, []).append((channel, channel.write(logs, events), count))
            for loop, stored in reports.items():  # one wake-up per loop, however many runs it holds
                try:
                    loop.call_soon_threadsafe(_report, stored)
                except RuntimeError:  # the loop was closed: nobody is left to tell
                    pass


def _report(stored: list[tuple[RunChannel, list[RunEvent], int]]) -> None:
    for channel, events, count in stored:
        channel.stored(events, count)


def _no_events_reported(events: Sequence[RunEvent]) -> None:
    """:attr:`RunChannel.on_stored` of a closed, drained channel (no report comes any more)."""


def _no_error_reported() -> None:
    """:attr:`RunChannel.on_error` of a closed, drained channel."""


def _acquire(store: Store) -> _StoreThread:
    with _REGISTRY_LOCK:
        worker = _THREADS.get(id(store))
        if worker is None or worker.store is not store:
            worker = _THREADS[id(store)] = _StoreThread(store)
        with worker.condition:
            worker.users += 1
        return worker


def _release(worker: _StoreThread) -> None:
    """The run has seen everything it handed over stored; the thread lingers for the next run
    (no wake-up here: it gives itself back after :data:`LINGER_SECONDS` without a run)."""
    with worker.condition:
        worker.users -= 1


class RunChannel:
    """One run's path to its store's thread; every method but :meth:`write` runs on the run's loop."""

    __slots__ = ("run_id", "store", "flushed_seq", "loop", "on_stored", "on_error", "unstored", "error", "waiter",
                 "waiting_for", "worker", "store_seconds", "fence", "first_lease")  # fmt: skip

    def __init__(self, run_id: str, store: Store, flushed_seq: int, loop: asyncio.AbstractEventLoop,
                 on_stored: Callable[[Sequence[RunEvent]], None], on_error: Callable[[], None],
                 fence: Fence | None = None, first_lease: Callable[[], RunLease] | None = None):  # fmt: skip
        self.run_id = run_id
        self.store = store
        self.flushed_seq = flushed_seq  # read and written by the store's thread only
        self.loop = loop
        self.on_stored = on_stored
        self.on_error = on_error
        self.unstored = 0
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.waiting_for = 0
        self.worker: _StoreThread | None = _acquire(store)
        self.store_seconds = 0.0
        """Seconds the store's thread spent appending this run's batches (written by that thread only)."""
        self.fence = fence
        """The leader's fence of every append (None: plain appends)."""
        self.first_lease = first_lease
        """Makes the run's first lease, written before anything else of the run (then None; thread only)."""

    def send(self, logs: list[LogLine], events: list[RunEvent]) -> None:
        """Hand a batch over; returns at once."""
        worker = self.worker
        assert worker is not None, "the run's store channel was closed"
        self.unstored += len(logs) + len(events)
        worker.put(self, logs, events)

    @property
    def backlogged(self) -> bool:
        return self.unstored > MAX_UNSTORED

    async def stored_down_to(self, count: int) -> None:
        """Wait until at most ``count`` handed-over items are unstored, or the store failed."""
        while self.unstored > count and self.error is None:
            self.waiter = self.loop.create_future()
            self.waiting_for = count
            await self.waiter

    def close(self) -> None:
        """No more batches: the thread stores what it holds and is let go when no run uses it.

        Once everything handed over was reported back (the run's end), no report can come: the
        callbacks are dropped too. They are bound methods of the run's writer, which refers to
        this channel, and the cycle kept the run's objects for the cyclic collector (issue 10).
        A run that stops with batches still out keeps them, so those still reach its sinks.
        """
        worker, self.worker = self.worker, None
        if worker is not None:
            _release(worker)
        if self.unstored == 0:
            self.on_stored = _no_events_reported
            self.on_error = _no_error_reported

    # -- on the store's thread --------------------------------------------------------------

    def write(self, logs: list[LogLine], events: list[RunEvent]) -> list[RunEvent]:
        """Append a batch; returns the events stored (none once the store failed for this run)."""
        if self.error is not None:  # the run is stopping with the store's error: nothing more goes out
            return []
        started = time.perf_counter()
        fence = self.fence
        try:
            if self.first_lease is not None:  # before the run's first event: never recorded running without one
                make_lease, self.first_lease = self.first_lease, None
                self.store.renew_leases([make_lease()])
            if fence is None:
                if logs:
                    self.store.append_logs(self.run_id, logs)
                if events:
                    self.flushed_seq = self.store.append_events(self.run_id, events, self.flushed_seq)
            else:  # the fence first: a deposed leader's batch leaves no log line behind either
                if events:
                    self.flushed_seq = self.store.append_fenced_events(self.run_id, events, self.flushed_seq, fence)
                if logs:
                    self.store.append_logs(self.run_id, logs)
        except BaseException as error:  # reported to the run, which stops with it
            self.error = error
            return []
        finally:
            self.store_seconds += time.perf_counter() - started
        return events

    # -- back on the loop -------------------------------------------------------------------

    def stored(self, events: list[RunEvent], count: int) -> None:
        self.unstored -= count
        if events:
            self.on_stored(events)
        if self.error is not None:
            self.on_error()
        waiter = self.waiter
        if waiter is not None and not waiter.done() and (self.error is not None or self.unstored <= self.waiting_for):
            waiter.set_result(None)
