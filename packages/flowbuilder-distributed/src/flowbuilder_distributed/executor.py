"""``RedisStreamsExecutor``: the attempt executor that sends attempts to ``flowbuilder worker`` processes.

``flowbuilder run --workers redis://HOST:PORT/DB`` (or ``workers =``) makes the run service
build one per process; the runner then hands it its thread, process and async attempts. The
scheduling rules stay the runner's: this class only carries attempts out and results back.

How an attempt travels:

1. :meth:`submit` (scheduler thread) turns the attempt into an
   :class:`~flowbuilder_distributed.attempt_messages.AttemptMessage` with a unique attempt id
   and queues an ``XADD`` to the queue stream of its placement (the task's ``worker:``
   group and labels). No live matching worker? It waits in the stream: queued, not failed.
2. A background *sender* thread pipelines those XADDs (and cancels, and acknowledgements).
3. A background *reader* thread reads this executor's own results stream (``XREAD``) and
   posts each result to the scheduler's loop with ``call_soon_threadsafe``; there the result
   becomes the attempt's ``on_done``. Log lines a worker sends while the attempt runs
   (:class:`~flowbuilder_distributed.attempt_messages.LogMessage`, asked for with
   ``live_logs``) travel the same way, ahead of the result, into the attempt's log. A result whose attempt id is not current (it timed out,
   was cancelled, or a reclaimed copy already reported) is **refused**: dropped, logged, and
   counted in :attr:`RedisStreamsExecutor.refused`.
4. **Acknowledgement after recording.** The attempt's stream entry is ``XACK``-ed only once
   its outcome is in the store: the run service adds :meth:`recording_sink` to the run's
   sinks, and sinks see a batch of events only after the store accepted it. When the sink
   sees the attempt's ``task_succeeded``/``task_failed``/``task_retrying``/``task_cancelled``
   (or ``item_*``) event, or the run's ``run_finished``, the entry is acknowledged. An
   executor used without a run service (no sink for the run) acknowledges right after
   ``on_done`` returned. Until acknowledged the entry stays pending in Redis, so a scheduler
   that dies before recording leaves it to be reclaimed, never lost.

Timeouts: the worker enforces an attempt's ``timeout`` from when it starts running it; this
side also fails the attempt ``timed_out`` at ``timeout`` plus :data:`TIMEOUT_GRACE` after
submission (time spent queued counts) and tells the worker to stop, so a lost worker never
makes an attempt outlive its timeout. :meth:`cancel` reports the attempt cancelled at once and
publishes a cancel the worker honours (a worker that had not started it skips it).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from flowbuilder.errors import ConfigurationError, shown_url
from flowbuilder.events import EventKind
from flowbuilder.interfaces import Attempt, AttemptExecutor, AttemptOutcome, TaskFailure
from flowbuilder.interfaces.sink import EventSink
from flowbuilder_distributed._redis_connection import REDIS_SCHEMES, connect
from flowbuilder_distributed.attempt_messages import (
    AttemptMessage,
    LogMessage,
    ResultMessage,
    read_log_message,
    read_result,
)
from flowbuilder_distributed.stream_keys import CONSUMER_GROUP, DEFAULT_GROUP, StreamKeys, label_set

if TYPE_CHECKING:
    import redis

    from flowbuilder.config import Settings
    from flowbuilder.events import RunEvent
    from flowbuilder.interfaces.executor import OnDone

log = logging.getLogger("flowbuilder_distributed.executor")

TIMEOUT_GRACE = 1.0
"""Seconds past an attempt's timeout before this side fails it (the worker's own limit comes first)."""
RESULT_BLOCK_MS = 500
"""How long the reader's XREAD blocks; also how soon :meth:`close` stops it."""
SEND_BATCH = 512
"""Commands the sender pipelines at most in one round trip."""
MARKER_TTL_SECONDS = 24 * 3600
"""How long a cancel mark stays in Redis (a worker that reads the attempt later still sees it)."""
MARK_REFRESH_SECONDS = 3600.0
"""How often the executor rewrites its marker key, which lives :data:`MARKER_TTL_SECONDS`."""
SETTINGS_SECTION = "distributed"
DEFAULT_REDIS_LOSS_LIMIT = 30.0
"""Seconds the results stream may stay unreadable before every attempt in flight fails."""

_OUTCOME_EVENTS = frozenset({EventKind.TASK_SUCCEEDED, EventKind.TASK_FAILED, EventKind.TASK_RETRYING,
                             EventKind.TASK_CANCELLED})  # fmt: skip
_ITEM_EVENTS = frozenset({EventKind.ITEM_SUCCEEDED, EventKind.ITEM_FAILED, EventKind.ITEM_CANCELLED})


class _InFlight:
    """What the executor remembers of one submitted attempt until its outcome is reported."""

    __slots__ = ("attempt", "on_done", "loop", "timer")

    def __init__(self, attempt: Attempt, on_done: OnDone, loop: asyncio.AbstractEventLoop):
        self.attempt = attempt
        self.on_done = on_done
        self.loop = loop
        self.timer: asyncio.TimerHandle | None = None


class RedisStreamsExecutor(AttemptExecutor):
    """Runs attempts on remote workers through Redis Streams consumer groups.

    Args:
        url: the Redis the workers read (``redis://HOST:PORT/DB``); checked with a PING here.
        prefix: the key prefix shared with the workers (default ``flowbuilder``).
        redis_loss_limit: seconds the results stream may stay unreadable (Redis down)
            before every attempt in flight fails with that reason (retryable), so a run
            never waits forever for a Redis that does not come back.
        client: an existing client to use instead of connecting to ``url`` (tests).
    """

    name: ClassVar[str] = "redis-streams"
    url_schemes: ClassVar[tuple[str, ...]] = REDIS_SCHEMES
    modes: ClassVar[frozenset[str]] = frozenset({"thread", "process", "async"})

    def __init__(self, url: str, *, prefix: str | None = None, client: redis.Redis | None = None,
                 redis_loss_limit: float = DEFAULT_REDIS_LOSS_LIMIT):  # fmt: skip
        self.url = url
        self.redis_loss_limit = redis_loss_limit
        self.keys = StreamKeys(prefix) if prefix else StreamKeys()
        self.client = client if client is not None else connect(url, "the workers' Redis")
        self.executor_id = uuid.uuid4().hex[:16]
        self.results_stream = self.keys.results(self.executor_id)
        self.refused = 0
        """Results refused because their attempt was no longer current (late or duplicate)."""
        self._serial = itertools.count(1)
        self._in_flight: dict[str, _InFlight] = {}
        self._ids: dict[Attempt, str] = {}
        self._unrecorded: dict[tuple[str, str, int], tuple[str, str]] = {}
        """(run, task, attempt) -> (stream, entry id): outcomes handed over, not yet seen stored."""
        self._recorded_runs: set[str] = set()
        self._known_queues: set[tuple[str, str]] = set()
        self._outbox: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self._started = threading.Lock()

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> RedisStreamsExecutor:
        """The executor for ``--workers URL``; ``[distributed] prefix`` sets the key prefix and
        ``redis_loss_limit`` the seconds without Redis before attempts in flight fail."""
        section = settings.section(SETTINGS_SECTION)
        prefix = section.get("prefix")
        if prefix is not None and (not isinstance(prefix, str) or not prefix):
            raise ConfigurationError("[distributed] prefix must be non-empty text")
        limit = section.get("redis_loss_limit", DEFAULT_REDIS_LOSS_LIMIT)
        try:
            limit = float(limit)
        except (TypeError, ValueError):
            raise ConfigurationError(f"[distributed] redis_loss_limit must be seconds, not {limit!r}") from None
        if not 0 < limit < 86400 * 7:
            raise ConfigurationError(f"[distributed] redis_loss_limit must be positive seconds, not {limit!r}")
        return cls(url, prefix=prefix, redis_loss_limit=limit)

    # -- the scheduler's side ----------------------------------------------------------------

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        loop = asyncio.get_running_loop()
        attempt_id = f"{self.executor_id}-{next(self._serial)}"
        placement = attempt.placement
        group = (placement.group if placement is not None else None) or DEFAULT_GROUP
        labels = label_set(placement.labels) if placement is not None else label_set(())
        context = attempt.context
        try:
            config = (
                attempt.config.model_dump(mode="json", by_alias=True)
                if hasattr(attempt.config, "model_dump")
                else attempt.config
            )
            payload = AttemptMessage(
                attempt_id=attempt_id, results=self.results_stream, run_id=attempt.run_id, task=attempt.task,
                number=attempt.number, task_type=attempt.task_type.name, config=config, inputs=dict(context.inputs),
                params=dict(context.params), env=dict(context.env), item=context.item, timeout=attempt.timeout,
                labels=tuple(sorted(placement.labels)) if placement is not None else (), group=group,
                live_logs=True,
            ).encode()  # fmt: skip
        except (TypeError, ValueError) as error:
            failure = TaskFailure(f"cannot send the attempt to remote workers: {error}", retryable=False)
            on_done(attempt, AttemptOutcome.failed(failure))
            return
        held = _InFlight(attempt, on_done, loop)
        if attempt.timeout is not None:
            held.timer = loop.call_later(attempt.timeout + TIMEOUT_GRACE, self._timed_out, attempt_id)
        self._in_flight[attempt_id] = held
        self._ids[attempt] = attempt_id
        self._start_threads()
        if (group, labels) not in self._known_queues:
            self._known_queues.add((group, labels))
            self._outbox.put(("queue", group, labels))
        self._outbox.put(("xadd", self.keys.queue(group, labels), payload, attempt_id))

    def cancel(self, attempt: Attempt) -> None:
        attempt_id = self._ids.get(attempt)
        if attempt_id is None:
            return
        held = self._take(attempt_id)
        if held is None:
            return
        self._outbox.put(("cancel", attempt_id))
        held.loop.call_soon(held.on_done, attempt, AttemptOutcome.cancelled())

    def recording_sink(self, run_id: str) -> EventSink | None:
        """The sink that acknowledges this run's attempt entries once their outcomes are stored."""
        self._recorded_runs.add(run_id)
        return _AcknowledgeWhenRecorded(self, run_id)

    def close(self) -> None:
        """Stop the background threads; attempts still in flight are abandoned (their entries stay pending)."""
        self._closing.set()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=RESULT_BLOCK_MS / 1000 + 5)
        self._threads.clear()
        for held in self._in_flight.values():
            if held.timer is not None:
                held.timer.cancel()
        self._in_flight.clear()
        self._ids.clear()
        try:
            self.client.close()
        except Exception:  # closing a client whose server died: nothing left to release
            pass

    # -- outcomes, on the scheduler's loop ----------------------------------------------------

    def _take(self, attempt_id: str) -> _InFlight | None:
        held = self._in_flight.pop(attempt_id, None)
        if held is None:
            return None
        self._ids.pop(held.attempt, None)
        if held.timer is not None:
            held.timer.cancel()
        return held

    def _timed_out(self, attempt_id: str) -> None:
        held = self._take(attempt_id)
        if held is None:
            return
        self._outbox.put(("cancel", attempt_id))
        timeout = held.attempt.timeout or 0.0
        failure = TaskFailure(f"timed out after {timeout:g}s (no result from a worker)", timed_out=True)
        held.on_done(held.attempt, AttemptOutcome.failed(failure))

    def _deliver(self, result: ResultMessage) -> None:
        held = self._take(result.attempt_id)
        if held is None:
            self.refused += 1
            log.warning("refused a result for attempt %s from worker %s: that attempt is no longer current (late or"
                        " duplicate)", result.attempt_id, result.worker)  # fmt: skip
            self._outbox.put(("ack", result.stream, result.message_id))
            return
        attempt = held.attempt
        write = attempt.context.log
        for stream, line in result.logs:
            write(stream, line)
        if result.kind == AttemptOutcome.SUCCEEDED:
            outcome = AttemptOutcome.succeeded(result.value)
        elif result.kind == AttemptOutcome.FAILED:
            fields = result.failure or {}
            failure = TaskFailure(
                result.message,
                exit_code=fields.get("exit_code"),
                status=fields.get("status"),
                timed_out=bool(fields.get("timed_out", False)),
                retryable=bool(fields.get("retryable", True)),
            )
            outcome = AttemptOutcome(AttemptOutcome.FAILED, None, failure, result.message)
        else:
            outcome = AttemptOutcome.cancelled()
        entry = (result.stream, result.message_id)
        if attempt.run_id in self._recorded_runs:
            self._unrecorded[(attempt.run_id, attempt.task, attempt.number)] = entry
            held.on_done(attempt, outcome)
        else:
            held.on_done(attempt, outcome)
            self._outbox.put(("ack", *entry))

    def _recorded(self, events: Sequence[RunEvent]) -> None:
        """The sink saw these events stored: acknowledge the entries of the outcomes among them."""
        unrecorded = self._unrecorded
        if not unrecorded:
            return
        for event in events:
            kind = event.kind
            if kind in _OUTCOME_EVENTS:
                entry = unrecorded.pop((event.run_id, event.task or "", event.attempt), None)
            elif kind in _ITEM_EVENTS:
                item = event.data.get("item")
                entry = unrecorded.pop((event.run_id, f"{event.task}[{item}]", event.attempt), None)
            elif kind is EventKind.RUN_FINISHED:
                self._run_over(event.run_id)
                continue
            else:
                continue
            if entry is not None:
                self._outbox.put(("ack", *entry))

    def _run_over(self, run_id: str) -> None:
        """Acknowledge whatever of ``run_id`` is left: its end is recorded, nothing of it reruns."""
        for key in [key for key in list(self._unrecorded) if key[0] == run_id]:
            entry = self._unrecorded.pop(key, None)
            if entry is not None:
                self._outbox.put(("ack", *entry))
        self._recorded_runs.discard(run_id)

    # -- the background threads ----------------------------------------------------------------

    def _start_threads(self) -> None:
        if self._threads:
            return
        with self._started:
            if self._threads or self._closing.is_set():
                return
            for target, name in ((self._send_forever, "sender"), (self._read_forever, "reader")):
                thread = threading.Thread(target=target, name=f"flowbuilder-streams-{name}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _send_forever(self) -> None:
        """Pipeline queued commands (XADD, XACK, cancels) until :meth:`close`."""
        import redis

        outbox = self._outbox
        while True:
            first = outbox.get()
            batch = [first]
            while first is not None and len(batch) < SEND_BATCH:
                try:
                    batch.append(outbox.get_nowait())
                except queue.Empty:
                    break
            commands = [command for command in batch if command is not None]
            if commands:
                try:
                    self._send(commands)
                except redis.RedisError as error:
                    log.error("lost the workers' Redis at %s: %s (%d command(s) not sent)", shown_url(self.url), error,
                              len(commands))  # fmt: skip
                    unsent = [command[3] for command in commands if command[0] == "xadd"]
                    self._fail_from_thread(unsent, f"could not send the attempt to the workers' Redis at"
                                                   f" {shown_url(self.url)}: {error}")  # fmt: skip
            if None in batch:
                return

    def _send(self, commands: list[tuple[Any, ...]]) -> None:
        keys = self.keys
        with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                verb = command[0]
                if verb == "xadd":
                    pipe.xadd(command[1], {"attempt": command[2]})
                elif verb == "ack":
                    pipe.xack(command[1], CONSUMER_GROUP, command[2])
                    pipe.xdel(command[1], command[2])  # acknowledged entries are never read again
                elif verb == "cancel":
                    pipe.set(keys.cancelled(command[1]), b"1", ex=MARKER_TTL_SECONDS)
                    pipe.publish(keys.cancel_channel(), command[1])
                elif verb == "queue":
                    group, labels = command[1], command[2]
                    pipe.sadd(keys.queues(group), labels)
            pipe.execute(raise_on_error=False)

    def _read_forever(self) -> None:
        """Read this executor's results stream and post each result to its attempt's loop."""
        import redis

        last = "0-0"
        stream = self.results_stream
        failing_since: float | None = None
        marked = self._mark_alive()
        while not self._closing.is_set():
            try:
                found: Any = self.client.xread({stream: last}, count=1024, block=RESULT_BLOCK_MS)
                if failing_since is not None or time.monotonic() - marked > MARK_REFRESH_SECONDS:
                    self._check_data_kept()
                    marked = self._mark_alive()
                failing_since = None
            except redis.RedisError as error:
                if self._closing.is_set():
                    return
                now = time.monotonic()
                failing_since = now if failing_since is None else failing_since
                if now - failing_since >= self.redis_loss_limit:
                    self._fail_from_thread(list(self._in_flight), f"lost the workers' Redis at {shown_url(self.url)}"
                                           f" for {self.redis_loss_limit:g}s: {error}")  # fmt: skip
                    failing_since = now
                else:
                    log.error("reading results from %s failed: %s; retrying", shown_url(self.url), error)
                self._closing.wait(0.5)
                continue
            if not found:
                continue
            entries = found[0][1]
            last = entries[-1][0].decode()
            results: list[ResultMessage | LogMessage] = []
            for entry_id, fields in entries:
                try:
                    lines = fields.get(b"logs")
                    results.append(read_result(fields.get(b"result")) if lines is None else read_log_message(lines))
                except Exception as error:  # BadMessage, or a reader's bug: this thread must live on (or runs hang)
                    log.warning("dropped an unreadable result %s: %s", entry_id.decode(), error)
            try:
                self.client.xdel(stream, *[entry_id for entry_id, _ in entries])
            except redis.RedisError:
                pass
            if results:
                self._post(results)

    def _mark_alive(self) -> float:
        """Write this executor's marker key (see :meth:`_check_data_kept`); when it was written."""
        import redis

        try:
            self.client.set(self.keys.executor_alive(self.executor_id), b"1", ex=MARKER_TTL_SECONDS)
        except redis.RedisError:
            pass  # the read loop reports a lost Redis
        return time.monotonic()

    def _check_data_kept(self) -> None:
        """After Redis came back: fail the attempts in flight if it lost its data (no AOF).

        A server restarted without persistence has no queue entries and no pending lists, so
        no worker will ever send the results these attempts wait for. Without this, a task
        with no timeout would wait forever; failed here, the run records why (or, when the
        store is that same Redis, the store names the run it lost).
        """
        if self.client.exists(self.keys.executor_alive(self.executor_id)):
            return
        self._known_queues.clear()  # the queue index is gone too: announce each queue again
        self._fail_from_thread(list(self._in_flight), f"the workers' Redis at {shown_url(self.url)} restarted"
                               " without its data (run it with appendonly yes): the attempts queued there are lost")  # fmt: skip

    def _post(self, results: list[ResultMessage | LogMessage]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop | None, list[ResultMessage | LogMessage]] = {}
        for result in results:
            held = self._in_flight.get(result.attempt_id)
            by_loop.setdefault(held.loop if held is not None else None, []).append(result)
        for loop, batch in by_loop.items():
            if loop is None:  # nobody waits for these: refuse them where the counter lives
                for result in batch:
                    if isinstance(result, LogMessage):  # lines of an attempt that ended here already
                        continue
                    self.refused += 1
                    log.warning("refused a result for attempt %s from worker %s: that attempt is no longer current"
                                " (late or duplicate)", result.attempt_id, result.worker)  # fmt: skip
                    self._outbox.put(("ack", result.stream, result.message_id))
                continue
            try:
                loop.call_soon_threadsafe(self._deliver_all, batch)
            except RuntimeError:  # the loop closed: its run is over
                pass

    def _fail_from_thread(self, attempt_ids: list[str], reason: str) -> None:
        """Fail these attempts (retryable) on their loops: their messages or results are lost."""
        for attempt_id in attempt_ids:
            held = self._in_flight.get(attempt_id)
            if held is None:
                continue
            try:
                held.loop.call_soon_threadsafe(self._lost, attempt_id, reason)
            except RuntimeError:  # the loop closed: its run is over
                pass

    def _lost(self, attempt_id: str, reason: str) -> None:
        held = self._take(attempt_id)
        if held is not None:
            held.on_done(held.attempt, AttemptOutcome.failed(TaskFailure(reason)))

    def _deliver_all(self, batch: list[ResultMessage | LogMessage]) -> None:
        for result in batch:
            if isinstance(result, LogMessage):
                self._deliver_lines(result)
            else:
                self._deliver(result)

    def _deliver_lines(self, lines: LogMessage) -> None:
        """A running attempt's lines, into its log (dropped if the attempt is no longer current)."""
        held = self._in_flight.get(lines.attempt_id)
        if held is None:
            return
        write = held.attempt.context.log
        for stream, line in lines.logs:
            write(stream, line)


class _AcknowledgeWhenRecorded(EventSink):
    """A run's sink that tells the executor which outcomes the store now holds."""

    def __init__(self, executor: RedisStreamsExecutor, run_id: str):
        self.executor = executor
        self.run_id = run_id

    def handle(self, events: Sequence[RunEvent]) -> None:
        self.executor._recorded(events)

    def close(self) -> None:
        self.executor._run_over(self.run_id)


__all__ = ["RedisStreamsExecutor", "TIMEOUT_GRACE"]
