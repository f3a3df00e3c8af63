"""``flowbuilder worker``: a process that runs attempts sent through Redis Streams.

A :class:`Worker` joins the node registry, then reads attempts from the queue streams of its
group whose labels it all has (``XREADGROUP``, never more at once than it has free slots),
runs each with the runner's own task types and local executors (thread, process, async:
:mod:`flowrunner.executors`, the same that run attempts in a local run) and posts the result
to the results stream the attempt names. It does not acknowledge the attempt's entry: the
executor does, once the outcome is recorded (see :mod:`flowbuilder_distributed.executor`).
When the executor asked for live lines (``live_logs``), an attempt's log lines go to the same
results stream while it runs, at most :data:`~.attempt_messages.LIVE_LOG_SECONDS` after they
were written (a timer armed by the first line not yet sent, none for an attempt that prints
nothing), and the result carries only the lines written after the last of those.

Leases and reclaiming. While an attempt runs its worker renews it every ``lease / 3``
seconds (``XCLAIM ... JUSTID``, which resets the entry's idle time without counting a
delivery). Every worker also looks, every ``lease / 2`` seconds, for entries of its queues
idle for longer than ``lease`` (``XAUTOCLAIM``): their worker died, or lost Redis. Reclaimed
entries come before new ones: a worker whose slots are all busy looks again (at most every
``lease / 4``) as soon as a slot frees, before it reads a new entry, so that under a full
queue a dead worker's attempts wait for the next free slot, not for the queue to drain. A
reclaimed entry whose result was already posted (a ``done`` mark exists) is acknowledged, not
run again; one delivered more than ``max_deliveries`` times goes to the group's dead-letter
stream and its attempt fails with that reason (not retried); any other runs again
(at-least-once execution; exactly-once recording is the scheduler's, which refuses a second
result for the same attempt).

Placement. A worker takes an attempt only when it has a free slot, so attempts go to
workers with room; among several, a worker whose load score (:mod:`~.registry`) is above
the lowest of its live peers waits a moment (up to :data:`MAX_YIELD_SECONDS`) before asking,
so the least-loaded worker is asked first.

Draining. :meth:`Worker.stop` (SIGTERM, SIGINT) stops reading and reclaiming, lets running
attempts finish for up to ``drain_timeout`` seconds, then hands back what still runs (each
entry is re-queued for another worker and the local run cancelled), leaves the registry and
returns; the command then exits 0.

Hostile input: an entry that is not a readable attempt is moved to the dead-letter stream
with the reason (and fails its attempt when its id could be read); the worker goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from flowbuilder.interfaces import Attempt, AttemptOutcome, ExecutionMode, TaskContext
from flowbuilder_distributed._redis_connection import connect, connect_async
from flowbuilder_distributed.attempt_messages import (
    LIVE_LOG_SECONDS,
    MAX_LOG_LINE_CHARS,
    MAX_LOG_LINES,
    AttemptMessage,
    BadMessage,
    LogMessage,
    ResultMessage,
    failure_fields,
    read_attempt,
)
from flowbuilder_distributed.registry import NodeInfo, NodeRegistry
from flowbuilder_distributed.stream_keys import CONSUMER_GROUP, DEFAULT_GROUP, StreamKeys, labels_of

if TYPE_CHECKING:
    import redis.asyncio

    from flowbuilder.interfaces import AttemptExecutor, TaskType
    from flowrunner.runner import LocalRunner

log = logging.getLogger("flowbuilder_distributed.worker")

DEFAULT_LEASE = 30.0
DEFAULT_MAX_DELIVERIES = 3
DEFAULT_DRAIN_TIMEOUT = 30.0
DEFAULT_HEARTBEAT = 2.0
READ_BLOCK_MS = 1000
QUEUE_REFRESH_SECONDS = 1.0
MAX_YIELD_SECONDS = 0.05
DONE_MARK_TTL = 24 * 3600
RESULTS_TTL = 24 * 3600
MAX_OUTPUT_BYTES = 16 << 20
DEAD_LETTER_MAX = 10_000
"""Entries a dead-letter stream keeps (oldest dropped first)."""


@dataclass(slots=True)
class WorkerOptions:
    """How a worker runs; the defaults are ``flowbuilder worker``'s."""

    labels: tuple[str, ...] = ()
    group: str = DEFAULT_GROUP
    concurrency: int = 4
    lease: float = DEFAULT_LEASE
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT
    heartbeat: float = DEFAULT_HEARTBEAT
    dead_after: float = 10.0
    prefix: str | None = None
    node_id: str = field(default_factory=lambda: f"worker-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")


class _Running:
    __slots__ = ("attempt", "stream", "entry_id", "executor", "message", "logs", "handed_back", "sent", "log_timer")

    def __init__(self, attempt: Attempt, stream: str, entry_id: str, executor: AttemptExecutor,
                 message: AttemptMessage, logs: list[tuple[str, str]]):  # fmt: skip
        self.attempt = attempt
        self.stream = stream
        self.entry_id = entry_id
        self.executor = executor
        self.message = message
        self.logs = logs
        self.handed_back = False
        self.sent = 0
        """How many of :attr:`logs` went out ahead of the result (live lines); the result carries the rest."""
        self.log_timer: asyncio.TimerHandle | None = None
        """Armed while lines wait to be sent ahead of the result."""


class Worker:
    """One worker process's engine. Build it, then ``await run()``; :meth:`stop` drains it."""

    def __init__(self, url: str, task_types: Mapping[str, TaskType], options: WorkerOptions | None = None):
        self.url = url
        self.task_types = task_types
        self.options = options or WorkerOptions()
        self.keys = StreamKeys(self.options.prefix) if self.options.prefix else StreamKeys()
        self.node = NodeInfo(id=self.options.node_id, kind="worker", labels=tuple(sorted(set(self.options.labels))),
                             group=self.options.group, capacity=self.options.concurrency)  # fmt: skip
        self.running: dict[str, _Running] = {}
        self.dead_lettered = 0
        self.unreadable = 0
        self.completed = 0
        self._queues: list[str] = []
        self._queues_read_at = 0.0
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._yield_delay = 0.0
        self._next_orphan_look = 0.0
        """When the read loop next looks for orphaned entries before reading new ones (monotonic)."""
        self._redis: redis.asyncio.Redis | None = None
        self._registry: NodeRegistry | None = None
        self._runner: LocalRunner | None = None
        self._executors: Mapping[ExecutionMode, AttemptExecutor] = {}
        self._results_out: list[tuple[str, str, bytes, str | None]] = []
        """Results and live log lines waiting for :meth:`_flush_results`, in the order they were made:
        (results stream, entry field ``result`` or ``logs``, payload, the attempt id of a result)."""
        self._results_queued = asyncio.Event()
        self._closed = False
        self._takers: list[asyncio.Task[None]] = []

    # -- life cycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Drain: stop taking attempts; :meth:`run` returns once running ones finished or were handed back."""
        self._stopping.set()
        self._slot_freed.set()

    async def run(self) -> None:
        """Serve until :meth:`stop`; raises :class:`~flowbuilder.errors.ConfigurationError` if Redis is unreachable."""
        from flowrunner.executors import default_executors
        from flowrunner.runner import LocalRunner

        self._redis = await connect_async(self.url, "the workers' Redis")
        self._registry = NodeRegistry(await asyncio.to_thread(connect, self.url, "the workers' Redis"),
                                      keys=self.keys, dead_after=self.options.dead_after)  # fmt: skip
        self._runner = LocalRunner(self.task_types, workers=self.options.concurrency)
        self._executors = default_executors(self._runner)
        await asyncio.to_thread(self._registry.join, self.node)
        log.info("worker %s joined group %r with labels %s, %d slot(s)", self.node.id, self.node.group,
                 ",".join(self.node.labels) or "(none)", self.node.capacity)  # fmt: skip
        loops = [asyncio.create_task(job()) for job in (self._read_loop, self._reclaim_loop, self._renew_loop,
                                                        self._heartbeat_loop, self._cancel_loop, self._flush_loop)]  # fmt: skip
        self._takers = loops[:2]
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            done, _ = await asyncio.wait([stopping, *loops], return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                if finished is not stopping and finished.exception() is not None:
                    raise finished.exception()  # type: ignore[misc]
            self.node.state = "draining"
            await self._drain()
        finally:
            self._stopping.set()
            self._closed = True
            stopping.cancel()
            for job in loops:
                job.cancel()  # the cancel listener may swallow this (redis-py's get_message): _closed ends it
            await asyncio.wait([*loops, stopping], timeout=5)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._flush_results(), 5)
            for executor in {id(e): e for e in self._executors.values()}.values():
                executor.close()
            self._runner.close()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._registry.leave, self.node.id)
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            with contextlib.suppress(Exception):
                self._registry.client.close()

    async def _drain(self) -> None:
        # The read and reclaim loops see the stop at their next turn (a blocked XREADGROUP
        # returns within READ_BLOCK_MS); what they are handed after it goes back to the queue.
        await asyncio.wait(self._takers, timeout=READ_BLOCK_MS / 1000 + 5)
        deadline = time.monotonic() + self.options.drain_timeout
        while self.running and time.monotonic() < deadline:
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), max(0.0, deadline - time.monotonic()))
        if self.running:
            await self._hand_back()
        await self._flush_results()

    async def _hand_back(self) -> None:
        """Re-queue the attempts still running (another worker takes them) and cancel them here."""
        for held in self.running.values():
            held.handed_back = True
        await self._requeue([(held.stream, held.entry_id, {b"attempt": held.message.encode()})
                             for held in self.running.values()])  # fmt: skip
        log.warning("handed back %d attempt(s) still running after the %gs drain", len(self.running),
                    self.options.drain_timeout)  # fmt: skip
        for held in list(self.running.values()):
            held.executor.cancel(held.attempt)
        self.running.clear()

    # -- reading ------------------------------------------------------------------------------

    async def _my_queues(self) -> list[str]:
        """The queue streams this worker may read: its group's, whose labels it all has."""
        assert self._redis is not None
        now = time.monotonic()
        if now - self._queues_read_at < QUEUE_REFRESH_SECONDS:
            return self._queues
        self._queues_read_at = now
        members: set[bytes] = await self._redis.smembers(self.keys.queues(self.node.group))  # type: ignore[assignment]
        mine = set(self.node.labels)
        names = [m.decode(errors="replace") for m in members]  # junk someone added is no label set of ours
        queues = sorted(self.keys.queue(self.node.group, name) for name in names
                        if "\ufffd" not in name and labels_of(name) <= mine)  # fmt: skip
        for stream in set(queues) - set(self._queues):
            with contextlib.suppress(Exception):  # BUSYGROUP: another worker created it
                await self._redis.xgroup_create(stream, CONSUMER_GROUP, id="0", mkstream=True)
        self._queues = queues
        return queues

    async def _read_loop(self) -> None:
        assert self._redis is not None
        while not self._stopping.is_set():
            free = self.node.capacity - len(self.running)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            queues = await self._my_queues()
            if not queues:
                await asyncio.sleep(QUEUE_REFRESH_SECONDS / 2)
                continue
            if self._yield_delay:
                await asyncio.sleep(self._yield_delay)
            if time.monotonic() >= self._next_orphan_look:  # orphans before new entries (module docstring)
                self._next_orphan_look = time.monotonic() + self.options.lease / 4
                if await self._reclaim_idle():
                    continue
            found: Any = await self._redis.xreadgroup(CONSUMER_GROUP, self.node.id, dict.fromkeys(queues, ">"),
                                                 count=free, block=READ_BLOCK_MS)  # fmt: skip
            delivered = [(stream.decode(), entry_id.decode(), fields, 1) for stream, entries in found or ()
                         for entry_id, fields in entries]  # fmt: skip
            if delivered and self._stopping.is_set():
                await self._requeue([(stream, entry_id, fields) for stream, entry_id, fields, _ in delivered])
            elif delivered:
                await self._take(delivered)

    async def _requeue(self, entries: list[tuple[str, str, Mapping[bytes, bytes]]]) -> None:
        """Put entries back in their queues for another worker: a new entry each, the old one acknowledged."""
        assert self._redis is not None
        async with self._redis.pipeline(transaction=True) as pipe:
            for stream, entry_id, fields in entries:
                pipe.xadd(stream, dict(fields))  # type: ignore[arg-type]
                pipe.xack(stream, CONSUMER_GROUP, entry_id)
                pipe.xdel(stream, entry_id)
            await pipe.execute()

    async def _reclaim_loop(self) -> None:
        """Take over entries whose worker stopped renewing them (it died) after the lease."""
        assert self._redis is not None
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):  # a stop ends the wait at once
                await asyncio.wait_for(self._stopping.wait(), max(0.05, self.options.lease / 2))
            if self._stopping.is_set():
                return
            await self._reclaim_idle()

    async def _reclaim_idle(self) -> int:
        """Take, into free slots, entries of this worker's queues idle past the lease; how many were taken."""
        assert self._redis is not None
        lease_ms = int(self.options.lease * 1000)
        taken = 0
        for stream in await self._my_queues():
            free = self.node.capacity - len(self.running)
            if free <= 0 or self._stopping.is_set():
                break
            reply = await self._redis.xautoclaim(stream, CONSUMER_GROUP, self.node.id, lease_ms, "0-0", count=free)
            claimed = []
            for entry_id, fields in reply[1] if len(reply) > 1 else ():
                if fields is None:
                    continue  # deleted while pending
                pending = await self._redis.xpending_range(stream, CONSUMER_GROUP, entry_id, entry_id, 1)
                deliveries = int(pending[0]["times_delivered"]) if pending else 1
                claimed.append((stream, entry_id.decode(), fields, deliveries))
            if claimed and self._stopping.is_set():
                await self._requeue([(stream, entry_id, fields) for stream, entry_id, fields, _ in claimed])
            elif claimed:
                await self._take(claimed)
                taken += len(claimed)
        return taken

    async def _renew_loop(self) -> None:
        """Keep the entries of running attempts from looking idle (their lease)."""
        assert self._redis is not None
        while not self._stopping.is_set() or self.running:
            await asyncio.sleep(max(0.05, self.options.lease / 3))
            by_stream: dict[str, list[Any]] = {}
            for held in list(self.running.values()):
                by_stream.setdefault(held.stream, []).append(held.entry_id)
            for stream, ids in by_stream.items():
                await self._redis.xclaim(stream, CONSUMER_GROUP, self.node.id, 0, ids, justid=True)

    async def _heartbeat_loop(self) -> None:
        assert self._registry is not None
        while True:
            self.node.running = len(self.running)
            await asyncio.to_thread(self._registry.heartbeat, self.node)
            peers = await asyncio.to_thread(self._registry.live, "worker")
            mine = [p for p in peers if p.group == self.node.group and p.state == "active" and p.id != self.node.id]
            lowest = min((p.load for p in mine if p.running < p.capacity), default=self.node.load)
            self._yield_delay = min(MAX_YIELD_SECONDS, max(0.0, (self.node.load - lowest) * 0.1))
            await asyncio.sleep(self.options.heartbeat)

    async def _cancel_loop(self) -> None:
        """Honour cancels the executors publish for attempts running here."""
        assert self._redis is not None
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self.keys.cancel_channel())
        try:
            while not self._closed:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if message is None:
                    continue
                held = self.running.get(message["data"].decode(errors="replace"))
                if held is not None:
                    held.executor.cancel(held.attempt)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    # -- one attempt ----------------------------------------------------------------------------

    async def _take(self, delivered: list[tuple[str, str, Mapping[bytes, bytes], int]]) -> None:
        """Start, skip, or dead-letter delivered entries (``(stream, entry id, fields, deliveries)``).

        One MGET for the whole batch tells which attempts were finished already (their
        result was posted: only the acknowledgement was due) or cancelled before they ran.
        """
        assert self._redis is not None
        readable: list[tuple[str, str, Mapping[bytes, bytes], int, AttemptMessage]] = []
        for stream, entry_id, fields, deliveries in delivered:
            try:
                message = read_attempt(fields.get(b"attempt"))
                if not self._is_results_stream(message.results):
                    raise BadMessage(f"field 'results' names {message.results[:100]!r}, not a results stream of"
                                     f" {self.keys.results('*')}", message.attempt_id)  # fmt: skip
            except BadMessage as error:
                self.unreadable += 1
                log.warning("entry %s of %s is not an attempt (%s): moved to the dead letters", entry_id, stream, error)
                await self._dead_letter(stream, entry_id, fields, f"unreadable attempt: {error}")
                if error.attempt_id and error.results and self._is_results_stream(error.results):
                    self._post_failure_of(error.attempt_id, error.results, stream, entry_id,
                                          f"the attempt's message could not be read by worker {self.node.id}: {error}")  # fmt: skip
                continue
            if message.attempt_id not in self.running:  # else our own entry came back (a reclaim raced a renewal)
                readable.append((stream, entry_id, fields, deliveries, message))
        if not readable:
            return
        keys = self.keys
        marks = await self._redis.mget([key for *_, message in readable
                                        for key in (keys.done(message.attempt_id), keys.cancelled(message.attempt_id))])  # fmt: skip
        for index, (stream, entry_id, fields, deliveries, message) in enumerate(readable):
            done, cancelled = marks[2 * index], marks[2 * index + 1]
            if done is not None:
                await self._acknowledge(stream, entry_id)  # finished and reported before; its ack was still due
            elif deliveries > self.options.max_deliveries:
                self.dead_lettered += 1
                reason = (f"dead-lettered after {deliveries - 1} deliveries: each worker that took it stopped (died or"
                          f" lost Redis) before it finished")  # fmt: skip
                log.warning("attempt %s of task %r in run %s %s", message.attempt_id, message.task, message.run_id,
                            reason)  # fmt: skip
                await self._dead_letter(stream, entry_id, fields, reason)
                self._post_failure_of(message.attempt_id, message.results, stream, entry_id, reason)
            elif cancelled is not None:
                self._post(ResultMessage(message.attempt_id, AttemptOutcome.CANCELLED, stream, entry_id, self.node.id),
                           message.results)  # fmt: skip
            else:
                self._start(stream, entry_id, message)

    def _is_results_stream(self, name: str) -> bool:
        """Whether ``name`` is an executor's results stream: a worker writes results there and
        nowhere else, so an entry naming another key (a queue, a node hash, a store's key) can
        neither make this worker fail on a key of another type nor write into someone's data."""
        return name.startswith(self.keys.results("")) and len(name) > len(self.keys.results(""))

    def _start(self, stream: str, entry_id: str, message: AttemptMessage) -> None:
        task_type = self.task_types.get(message.task_type)
        if task_type is None:
            self._finish_without_running(stream, entry_id, message, f"worker {self.node.id} has no task type"
                                         f" {message.task_type!r} installed")  # fmt: skip
            return
        try:
            config = task_type.config_model.model_validate(message.config)
            mode = task_type.execution_mode(config)
        except Exception as error:
            self._finish_without_running(stream, entry_id, message, f"invalid config on worker {self.node.id}: {error}")
            return
        logs: list[tuple[str, str]] = []

        def keep(stream_name: str, line: str) -> None:
            if len(logs) < MAX_LOG_LINES:
                logs.append((stream_name, line[:MAX_LOG_LINE_CHARS]))
            elif len(logs) == MAX_LOG_LINES:
                logs.append(("stderr", f"[worker: log cut after {MAX_LOG_LINES} lines]"))
            else:
                return
            if message.live_logs:
                held = self.running.get(message.attempt_id)
                if held is not None and held.log_timer is None:
                    held.log_timer = asyncio.get_running_loop().call_later(LIVE_LOG_SECONDS, self._send_lines,
                                                                           message.attempt_id)  # fmt: skip

        deadline = time.monotonic() + message.timeout if message.timeout is not None else None
        context = TaskContext(message.run_id, message.task, message.number, message.inputs, message.params,
                              message.env, message.item, deadline, keep)  # fmt: skip
        attempt = Attempt(message.run_id, message.task, 0, message.number, task_type, config, mode, context,
                          message.timeout)  # fmt: skip
        executor = self._executors[mode]
        self.running[message.attempt_id] = _Running(attempt, stream, entry_id, executor, message, logs)
        self.node.running = len(self.running)
        executor.submit(attempt, lambda done, outcome: self._finished(message.attempt_id, outcome))

    def _finish_without_running(self, stream: str, entry_id: str, message: AttemptMessage, reason: str) -> None:
        result = ResultMessage(message.attempt_id, AttemptOutcome.FAILED, stream, entry_id, self.node.id,
                               message=reason, failure={"retryable": False})  # fmt: skip
        self._post(result, message.results)

    def _send_lines(self, attempt_id: str) -> None:
        """Send a running attempt's new lines ahead of its result (queued with the results, in order)."""
        held = self.running.get(attempt_id)
        if held is None:
            return
        held.log_timer = None
        if held.handed_back or held.sent == len(held.logs):
            return
        lines, held.sent = held.logs[held.sent :], len(held.logs)
        self._results_out.append((held.message.results, "logs", LogMessage(attempt_id, lines).encode(), None))
        self._results_queued.set()

    def _finished(self, attempt_id: str, outcome: AttemptOutcome) -> None:
        held = self.running.pop(attempt_id, None)
        self.node.running = len(self.running)
        self._slot_freed.set()
        if held is not None and held.log_timer is not None:
            held.log_timer.cancel()
        if held is None or held.handed_back:
            return
        self.completed += 1
        result = ResultMessage(attempt_id, outcome.kind, held.stream, held.entry_id, self.node.id,
                               message=outcome.message, logs=held.logs[held.sent :])  # fmt: skip
        if outcome.kind == AttemptOutcome.SUCCEEDED:
            result.value = outcome.value
        elif outcome.kind == AttemptOutcome.FAILED:
            result.failure = failure_fields(outcome.failure) if outcome.failure is not None else {"retryable": True}
        self._post(result, held.message.results)

    def _post(self, result: ResultMessage, results_stream: str) -> None:
        """Queue a result for its executor; :meth:`_flush_loop` sends the queue in one pipeline."""
        try:
            payload = result.encode()
        except (TypeError, ValueError) as error:
            result = ResultMessage(result.attempt_id, AttemptOutcome.FAILED, result.stream, result.message_id,
                                   result.worker, message=f"the task's output is not JSON: {error}",
                                   failure={"retryable": False}, logs=result.logs)  # fmt: skip
            payload = result.encode()
        if len(payload) > MAX_OUTPUT_BYTES:
            result = ResultMessage(result.attempt_id, AttemptOutcome.FAILED, result.stream, result.message_id,
                                   result.worker, message=f"the result is {len(payload)} bytes, over the worker's"
                                   f" {MAX_OUTPUT_BYTES}-byte limit", failure={"retryable": False})  # fmt: skip
            payload = result.encode()
        self._results_out.append((results_stream, "result", payload, result.attempt_id))
        self._results_queued.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._results_queued.wait()
            self._results_queued.clear()
            await self._flush_results()

    async def _flush_results(self) -> None:
        """Send the queued results and mark their attempts done (so a reclaimed copy is not rerun)."""
        assert self._redis is not None
        batch, self._results_out = self._results_out, []
        if not batch:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for results_stream, kind, payload, attempt_id in batch:
                pipe.xadd(results_stream, {kind: payload})
                if attempt_id is not None:  # a result, not lines sent ahead of one
                    pipe.set(self.keys.done(attempt_id), b"1", ex=DONE_MARK_TTL)
            for results_stream in {results_stream for results_stream, _, _, _ in batch}:
                pipe.expire(results_stream, RESULTS_TTL)
            replies = await pipe.execute(raise_on_error=False)  # a lost connection still raises
        # A command Redis refused (a results key someone made a string: WRONGTYPE) loses that
        # result only, not this worker and the attempts it runs; that executor cannot read its
        # results stream either, and fails its attempts after its redis_loss_limit.
        refused = [reply for reply in replies if isinstance(reply, Exception)]
        if refused:
            log.warning("Redis refused %d of the results sent: %s", len(refused), refused[0])

    def _post_failure_of(self, attempt_id: str, results: str, stream: str, entry_id: str, reason: str) -> None:
        self._post(ResultMessage(attempt_id, AttemptOutcome.FAILED, stream, entry_id, self.node.id,
                                       message=reason, failure={"retryable": False}), results)  # fmt: skip

    async def _dead_letter(self, stream: str, entry_id: str, fields: Mapping[bytes, bytes], reason: str) -> None:
        assert self._redis is not None
        group = self.node.group
        kept: dict[Any, Any] = {k.decode(errors="replace"): v for k, v in list(fields.items())[:16]}
        kept.update({"reason": reason, "stream": stream, "entry": entry_id, "worker": self.node.id,
                     "at": json.dumps(time.time())})  # fmt: skip
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.keys.dead_letters(group), kept, maxlen=DEAD_LETTER_MAX, approximate=True)
            pipe.xack(stream, CONSUMER_GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()

    async def _acknowledge(self, stream: str, entry_id: str) -> None:
        assert self._redis is not None
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, CONSUMER_GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()


__all__ = ["DEFAULT_LEASE", "DEFAULT_MAX_DELIVERIES", "Worker", "WorkerOptions"]
