"""Numbering run events and delivering them in batches to the store and the sinks.

The scheduler calls :meth:`EventWriter.emit` for every state change (cheap: one slotted
object appended to a list) and :meth:`EventWriter.flush` once per scheduling step, so the
store sees at most one ``append_events`` per step and each sink one ``handle`` call, never
one per event. Inside a running event loop a flush only hands the batch to the store's
worker thread (:mod:`flowrunner._store_thread`): a store that is slow or reconnecting stalls
this run's writes, never the loop. A run driven by a leader carries a fence
(:attr:`RunRequest.fence <flowbuilder.interfaces.RunRequest.fence>`): its batches go out with
``append_fenced_events`` instead, chosen once per batch, so an unfenced run pays nothing per
event for fencing. The in-process memory:// store (exactly
:class:`~flowbuilder.stores.memory.MemoryStore`, not a subclass) is the exception: its
appends never wait on I/O, so they stay inline. Sinks get each batch on the loop's thread once it is
stored. A sink that raises is reported once on the run's log and dropped; it never fails
the run (the :class:`~flowbuilder.interfaces.EventSink` contract).

Log lines usually leave with the next step's flush. A task that prints a line and then runs
for a minute makes no event, though, so a line also arms a timer (:data:`LOG_FLUSH_SECONDS`)
when none is armed: when it fires, whatever is buffered is flushed, events and lines
together, in the order a step's flush would send them. A run whose tasks print nothing never
arms it; a run that prints a lot arms it at most once per interval. A crash loses at most
the lines of the last unflushed interval.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from dataclasses import replace
from time import perf_counter
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.stores import is_memory_store
from flowrunner import _store_thread
from flowrunner._store_thread import RunChannel

if TYPE_CHECKING:
    from flowbuilder.fencing import Fence
    from flowbuilder.interfaces import EventSink, LogLine, Store
    from flowbuilder.leases import RunLease
    from flowbuilder.secrets import SecretMasker

_EMPTY: Mapping[str, Any] = {}

LOG_FLUSH_SECONDS = 0.25
"""The longest a log line waits in the writer when no event of its run comes to take it along."""


class EventWriter:
    """Owns a run's sequence numbers from ``start_seq + 1`` on."""

    __slots__ = ("run_id", "store", "sinks", "seq", "flushed_seq", "pending", "logs", "events_kept", "keep", "masker",
                 "wake", "channel", "threaded", "store_seconds", "sink_seconds", "fence", "loop", "log_timer",
                 "failure", "loop_thread", "first_lease")  # fmt: skip

    def __init__(self, run_id: str, store: Store | None, sinks: Sequence[EventSink], start_seq: int = 0,
                 keep: bool = False, masker: SecretMasker | None = None,
                 wake: Callable[[], None] | None = None, fence: Fence | None = None):  # fmt: skip
        self.run_id = run_id
        self.store = store
        self.sinks = list(sinks)
        self.seq = start_seq
        self.flushed_seq = start_seq
        self.pending: list[RunEvent] = []
        self.logs: list[LogLine] = []
        self.keep = keep
        self.events_kept: list[RunEvent] = []
        self.masker = masker
        """Set when the run has secrets: every event and log line is masked before it leaves."""
        self.wake = wake
        """Called on the loop when the store failed, so the run's next flush raises at once."""
        self.channel: RunChannel | None = None
        self.threaded = store is not None and not is_memory_store(store)
        """Whether appends go through the store's thread: all but the in-process memory:// store,
        whose appends never wait on I/O (a thread hop would only slow it down)."""
        self.store_seconds = 0.0
        """Seconds spent in appends on the loop's thread (memory://, or no running loop);
        the store thread's share is the channel's (:attr:`stored_seconds`)."""
        self.sink_seconds = 0.0
        """Seconds spent in the sinks' ``handle`` (per batch, on the loop's thread)."""
        self.fence = fence
        """The leader's fence every batch carries (None: plain appends)."""
        self.loop: asyncio.AbstractEventLoop | None = None
        """The run's loop, once it runs (:meth:`follow_logs_on`): where the log timer is armed."""
        self.loop_thread = 0
        """The thread the run's loop runs on (where the log timer may be armed directly)."""
        self.log_timer: asyncio.TimerHandle | None = None
        """Armed while log lines wait for a flush; None when none wait (or no loop runs the run)."""
        self.failure: BaseException | None = None
        """An inline store's error met by a timed log flush: the run's next flush raises it."""
        self.first_lease: Callable[[], RunLease] | None = None
        """Makes the run's first lease, which the store's thread writes before the first batch (:meth:`lease_first`)."""

    def lease_first(self, make_lease: Callable[[], RunLease]) -> None:
        """Have the store's thread write ``make_lease()`` before the run's first batch.

        The lease goes with the first batch (made when it is written, so its expiry counts
        from then) instead of in a thread hand-off of its own. A store that refuses it
        stores nothing of the run and stops it with its error, as a refused append does.
        """
        self.first_lease = make_lease

    def emit(
        self, kind: EventKind, task: str | None = None, attempt: int = 0, data: Mapping[str, Any] = _EMPTY
    ) -> None:
        self.seq += 1
        self.pending.append(RunEvent(self.run_id, self.seq, kind, task, attempt, data, time.time()))

    def log(self, line: LogLine) -> None:
        """Buffer one log line (on the loop's thread); it is stored within :data:`LOG_FLUSH_SECONDS`."""
        self.logs.append(line)
        if self.log_timer is None:
            self.arm_log_flush()

    def follow_logs_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """The run runs on ``loop`` (on this thread): from now on a buffered log line arms the timed flush there."""
        self.loop = loop
        self.loop_thread = threading.get_ident()

    def arm_log_flush(self) -> None:
        """Log lines wait: flush them within :data:`LOG_FLUSH_SECONDS` even if no event comes.

        Called by whoever appended to :attr:`logs` while :attr:`log_timer` is None; a no-op
        without a loop (the next flush takes the lines). Called from another thread (a task
        type's own thread writing to ``context.log``), it arms the timer through the loop.
        """
        loop = self.loop
        if loop is None or self.log_timer is not None:
            return
        if threading.get_ident() != self.loop_thread:
            try:
                loop.call_soon_threadsafe(self.arm_log_flush)
            except RuntimeError:  # the loop has closed: the run is over
                pass
            return
        self.log_timer = loop.call_later(LOG_FLUSH_SECONDS, self._timed_flush)

    def _timed_flush(self) -> None:
        self.log_timer = None
        if not self.logs or self.loop is None:  # a step's flush took them, or the run has ended
            return
        try:
            self.flush()
        except BaseException as error:  # the run's own next flush raises it and stops the run
            if self.failure is None and (self.channel is None or self.channel.error is None):
                self.failure = error
            if self.wake is not None:
                self.wake()

    def _disarm_log_flush(self) -> None:
        self.loop = None
        timer, self.log_timer = self.log_timer, None
        if timer is not None:
            timer.cancel()

    def flush(self) -> None:
        """Hand the buffered events (and logs) to the store; sinks get them once stored.

        Raises the store's error if an earlier batch failed.
        """
        channel = self.channel
        if channel is not None and channel.error is not None:
            raise channel.error
        if self.failure is not None:
            raise self.failure
        if self.masker is not None:
            self._mask_pending()
        store = self.store
        if channel is None and self.threaded:
            assert store is not None
            channel = self._open_channel(store)
        if channel is not None:
            if self.pending or self.logs:
                logs, self.logs = self.logs, []
                batch, self.pending = self.pending, []
                channel.send(logs, batch)
            return
        # memory://, no store, or no running loop: store and deliver right here.
        if self.fence is not None and self.pending and store is not None:  # the fence first (see _store_thread)
            started = perf_counter()
            self.flushed_seq = store.append_fenced_events(self.run_id, self.pending, self.flushed_seq, self.fence)
            self.store_seconds += perf_counter() - started
            batch, self.pending = self.pending, []
            self._deliver(batch)
        if self.logs and store is not None:
            logs, self.logs = self.logs, []
            started = perf_counter()
            store.append_logs(self.run_id, logs)
            self.store_seconds += perf_counter() - started
        elif self.logs:
            self.logs = []
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        if store is not None:
            started = perf_counter()
            self.flushed_seq = store.append_events(self.run_id, batch, self.flushed_seq)
            self.store_seconds += perf_counter() - started
        else:
            self.flushed_seq = batch[-1].seq
        self._deliver(batch)

    def _open_channel(self, store: Store) -> RunChannel | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self.channel = RunChannel(self.run_id, store, self.flushed_seq, loop, self._deliver, self._store_failed,
                                  self.fence, self.first_lease)  # fmt: skip
        self.first_lease = None
        return self.channel

    @property
    def stored_seconds(self) -> float:
        """Seconds spent appending this run's events and logs, on the loop's thread and the store's."""
        channel = self.channel
        return self.store_seconds + (channel.store_seconds if channel is not None else 0.0)

    @property
    def loop_seconds(self) -> float:
        """Seconds the writer took on the loop's thread (inline appends and sinks): not the scheduler's own."""
        return self.store_seconds + self.sink_seconds

    @property
    def backlogged(self) -> bool:
        """Whether so much is handed over and unstored that the run should wait for its store."""
        channel = self.channel
        return channel is not None and channel.backlogged

    async def wait_for_room(self) -> None:
        """Wait (the run, not the loop) until the store has caught up to half the allowed backlog."""
        if self.channel is not None:
            await self.channel.stored_down_to(_store_thread.MAX_UNSTORED // 2)

    def _store_failed(self) -> None:
        if self.wake is not None:
            self.wake()

    def _deliver(self, batch: Sequence[RunEvent]) -> None:
        """Stored: keep the events if asked, then hand them to the sinks."""
        if self.keep:
            self.events_kept.extend(batch)
        if not self.sinks:
            return
        started = perf_counter()
        self._deliver_to_sinks(batch)
        self.sink_seconds += perf_counter() - started

    def _deliver_to_sinks(self, batch: Sequence[RunEvent]) -> None:
        for sink in tuple(self.sinks):
            try:
                sink.handle(batch)
            except Exception as error:  # a broken sink never fails the run
                self.sinks.remove(sink)
                kind = type(sink)  # its module names the plugin that gave it; one line whatever the message
                reason = " ".join(f"{type(error).__name__}: {error}".split())
                print(f"flowrunner: event sink {kind.__module__}.{kind.__qualname__} failed and was dropped from"
                      f" run {self.run_id}: {reason}", file=sys.stderr)  # fmt: skip

    def _mask_pending(self) -> None:
        """Replace secret values (and their encodings) in what is about to be stored and shown."""
        masker = self.masker
        assert masker is not None
        for event in self.pending:
            if event.data:
                event.data = masker.mask_value(event.data)
        self.logs = [replace(line, text=masker.mask(line.text)) for line in self.logs]

    async def aclose(self) -> None:
        """Store everything still buffered, wait until it is stored, then close the sinks.

        Raises the store's error (the sinks are then left open, as when a flush raised).
        """
        self._disarm_log_flush()
        self.flush()
        channel = self.channel
        if channel is not None:
            try:
                await channel.stored_down_to(0)
                if channel.error is not None:
                    raise channel.error
            finally:
                channel.close()
        self._close_sinks()

    def close(self) -> None:
        """Synchronous close, for a writer used with no running loop (see :meth:`aclose`)."""
        assert self.channel is None, "a writer that flushed inside a loop is closed with aclose()"
        self._disarm_log_flush()
        self.flush()
        self._close_sinks()

    def abandon(self) -> None:
        """The run stops with an error: let the store's thread go (it still stores what it holds)."""
        self._disarm_log_flush()
        if self.channel is not None:
            self.channel.close()

    def _close_sinks(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as error:
                print(f"flowrunner: closing event sink {type(sink).__name__} failed: {error}", file=sys.stderr)
