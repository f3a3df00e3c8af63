"""Worker processes for CPU-bound attempts, fed from one queue in the order they were submitted.

How it is built: every worker process has a driver thread in the scheduler's process that
sends it one job at a time over a pipe. Submitted jobs wait in one FIFO queue; a driver
whose worker is free takes the oldest job. So no worker idles while a job waits, and jobs
start in the order the scheduler dispatched them, which is its ready-queue order
(priority, ageing, critical path).

What it is not: this is not work stealing. An earlier version kept a deque per worker and
let an idle worker "steal" from the tail of the longest other deque, but the deques lived
here, in the scheduler's process, under one lock, so that was one shared queue in
disguise, except that a steal took the *newest* job and broke the scheduler's order. Real
stealing (backlogs inside the workers, taken back from a busy one) would save one pipe
round trip per job; the jobs are milliseconds to seconds long, so it was not worth it.

A job whose awaiting coroutine is cancelled (timeout, run cancelled) is dropped if it is
still queued; if it is running, its worker process is killed and replaced, so a timeout
really stops the work. Workers are spawned (not forked), so the scheduler's threads and
event loop are never copied into them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import threading
from collections import deque
from typing import Any

from flowbuilder.interfaces import TaskContext, TaskFailure
from flowrunner._log_handoff import hand_lines_to_loop


def _worker_main(connection: Any) -> None:
    """The loop of one worker process: receive a job, run it, send the outcome back."""
    import inspect
    import pickle

    from flowrunner._escapees import die_with_parent

    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        die_with_parent(parent.pid)  # a SIGKILLed runner takes its busy workers with it
    send_lock = threading.Lock()
    while True:
        try:
            job = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        task_type, config, context = job
        lines: list[tuple[str, str]] = []  # stays empty: each line goes to the parent as it is written
        log = _LiveLog(connection, send_lock)
        context = dataclasses.replace(context, log=log)
        try:
            result = task_type.run(config, context)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
            outcome: tuple[str, Any, Any] = ("ok", result, lines)
        except TaskFailure as failure:
            outcome = (
                "failure",
                (str(failure), failure.exit_code, failure.status, failure.timed_out, failure.retryable),
                lines,
            )
        except BaseException as error:
            outcome = ("error", f"{type(error).__name__}: {error}", lines)
        log.open = False  # a thread of the job that logs later must not write into the next job's log
        try:
            connection.send(outcome)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            connection.send(("error", f"the output cannot be sent back from the worker: {error}", lines))


class _LiveLog:
    """A job's ``log`` inside the worker: each line goes to the parent at once, as a ``("log", stream,
    line)`` message before the outcome, so a long job's lines are seen while it runs."""

    __slots__ = ("connection", "lock", "open")

    def __init__(self, connection: Any, lock: threading.Lock):
        self.connection = connection
        self.lock = lock
        self.open = True

    def __call__(self, stream: str, line: str) -> None:
        with self.lock:  # the job's own threads may log too: one whole message at a time
            if self.open:
                self.connection.send(("log", stream, line))


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _discard(stream: str, line: str) -> None:
    """Stands in for the attempt's log writer while the context travels to a worker."""


class _Job:
    __slots__ = ("payload", "future", "loop", "log", "worker", "cancelled")

    def __init__(self, payload: Any, future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop, log: Any):
        self.payload = payload
        self.future = future
        self.loop = loop
        self.log = log
        self.worker: _Worker | None = None
        self.cancelled = False


class _Worker:
    def __init__(self, pool: WorkerPool, slot: int):
        self.pool = pool
        self.slot = slot
        self.process: Any = None
        self.connection: Any = None
        self.current: _Job | None = None
        self.completed = 0
        self.thread = threading.Thread(target=self._drive, name=f"flowrunner-worker-{slot}", daemon=True)

    def spawn(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child,), name=f"flowrunner-worker-{self.slot}", daemon=True
        )
        self.process.start()
        child.close()
        self.connection = parent

    def _drive(self) -> None:
        pool = self.pool
        while True:
            job = pool._take(self)
            if job is None:
                return
            if self.process is None or not self.process.is_alive():
                self.spawn()
            try:
                self.connection.send(job.payload)
                outcome = self._receive_outcome(job)
            except Exception as error:  # the worker died (killed on cancel, or crashed)
                self.connection.close()
                self.process.join(timeout=1)
                self.process = None
                if not job.cancelled:
                    _deliver(job, ("error", f"worker process died: {type(error).__name__}", []))
                continue
            finally:
                with pool._lock:
                    self.current = None
            self.completed += 1
            _deliver(job, outcome)

    def _receive_outcome(self, job: _Job) -> tuple[str, Any, Any]:
        """The job's outcome; its log lines, sent ahead of it, are handed to the loop as they come
        (those already waiting in the pipe as one batch)."""
        connection = self.connection
        while True:
            message = connection.recv()
            if message[0] != "log":
                return message  # type: ignore[no-any-return]
            lines = [message[1:]]
            while connection.poll():
                message = connection.recv()
                if message[0] != "log":
                    hand_lines_to_loop(job.loop, job.log, lines)
                    return message  # type: ignore[no-any-return]
                lines.append(message[1:])
            hand_lines_to_loop(job.loop, job.log, lines)


def _deliver(job: _Job, outcome: tuple[str, Any, Any]) -> None:
    def settle() -> None:
        kind, value, lines = outcome
        for stream, line in lines:
            job.log(stream, line)
        if job.future.done():
            return
        if kind == "ok":
            job.future.set_result(value)
        elif kind == "failure":
            message, exit_code, status, timed_out, retryable = value
            job.future.set_exception(TaskFailure(message, exit_code=exit_code, status=status,
                                                 timed_out=timed_out, retryable=retryable))  # fmt: skip
        else:
            job.future.set_exception(TaskFailure(value))

    try:
        job.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody waits for this result any more
        pass


class WorkerPool:
    """``size`` worker processes fed from one FIFO queue; see the module docstring."""

    def __init__(self, size: int):
        self._lock = threading.Condition()
        self._closed = False
        self._queue: deque[_Job] = deque()
        self.workers = [_Worker(self, slot) for slot in range(max(1, size))]
        for worker in self.workers:
            worker.thread.start()

    @property
    def completed_per_worker(self) -> list[int]:
        """Jobs each worker has finished (how evenly the work spread)."""
        return [worker.completed for worker in self.workers]

    def _take(self, worker: _Worker) -> _Job | None:
        """The oldest job still wanted, for ``worker`` whose process is free (blocks until one)."""
        with self._lock:
            while True:
                if self._closed:
                    return None
                if not self._queue:
                    self._lock.wait()
                    continue
                job = self._queue.popleft()
                if job.cancelled:
                    continue
                job.worker = worker
                worker.current = job
                return job

    async def submit(self, task_type: Any, config: Any, context: TaskContext) -> Any:
        """Run one attempt in a worker; cancelling the await stops the work."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        payload = (task_type, config, dataclasses.replace(context, log=_discard))
        job = _Job(payload, future, loop, context.log)
        with self._lock:
            if self._closed:
                raise TaskFailure("the worker pool is closed", retryable=False)
            self._queue.append(job)
            self._lock.notify()
        try:
            return await future
        except asyncio.CancelledError:
            with self._lock:
                job.cancelled = True
                running_on = job.worker if job.worker is not None and job.worker.current is job else None
            process = running_on.process if running_on is not None else None
            if process is not None:
                process.kill()
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        for worker in self.workers:
            process, connection = worker.process, worker.connection  # the driver may reset them
            if process is not None and process.is_alive():
                try:
                    connection.send(None)
                except Exception:
                    pass
                process.join(timeout=2)
                if process.is_alive():
                    process.kill()
                    process.join(timeout=2)
