"""Worker processes for CPU-bound attempts, each with its own deque; idle workers steal.

How it is built (and what that means): every worker process has a deque of jobs and a
driver thread in the scheduler's process that feeds it one job at a time over a pipe. A
submitted job goes to the end of the shortest deque. A worker that finishes takes the next
job from the *head* of its own deque; when its deque is empty it *steals* from the *tail*
of the longest other deque. The deques live in the scheduler process (guarded by one lock),
not in shared memory inside the workers, so a steal costs a lock and a pipe message rather
than a lock-free CAS: the balancing effect of work stealing is real, the lock-free
mechanics of a Chase-Lev deque are not attempted.

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


def _worker_main(connection: Any) -> None:
    """The loop of one worker process: receive a job, run it, send the outcome back."""
    import inspect
    import pickle

    from flowrunner._escapees import die_with_parent

    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        die_with_parent(parent.pid)  # a SIGKILLed runner takes its busy workers with it
    while True:
        try:
            job = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        task_type, config, context = job
        lines: list[tuple[str, str]] = []
        context = dataclasses.replace(context, log=lambda stream, line, kept=lines: kept.append((stream, line)))
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
        try:
            connection.send(outcome)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            connection.send(("error", f"the output cannot be sent back from the worker: {error}", lines))


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
        self.deque: deque[_Job] = deque()
        self.process: Any = None
        self.connection: Any = None
        self.current: _Job | None = None
        self.completed = 0
        self.stolen = 0
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
                outcome = self.connection.recv()
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
    """``size`` worker processes, each with a deque; see the module docstring."""

    def __init__(self, size: int):
        self._lock = threading.Condition()
        self._closed = False
        self.workers = [_Worker(self, slot) for slot in range(max(1, size))]
        for worker in self.workers:
            worker.thread.start()

    @property
    def steals(self) -> int:
        return sum(worker.stolen for worker in self.workers)

    def _take(self, worker: _Worker) -> _Job | None:
        """The next job for ``worker``: the head of its deque, else the tail of the longest other."""
        with self._lock:
            while True:
                if self._closed:
                    return None
                if worker.deque:
                    job = worker.deque.popleft()
                else:
                    victim = max(self.workers, key=lambda other: len(other.deque))
                    if not victim.deque:
                        self._lock.wait()
                        continue
                    job = victim.deque.pop()
                    worker.stolen += 1
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
            home = min(self.workers, key=lambda worker: len(worker.deque) + (worker.current is not None))
            home.deque.append(job)
            self._lock.notify_all()
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
