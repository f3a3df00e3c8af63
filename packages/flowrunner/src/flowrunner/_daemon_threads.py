"""A shared pool of daemon threads: for work that may never return.

Not ``ThreadPoolExecutor`` (nor asyncio's default executor): its threads are joined at
interpreter exit *before* atexit handlers run, so one call that never returns — a child
process still running, or an ``isolation: thread`` function stuck for ever after its
attempt was cancelled — would keep the process from exiting. Daemon threads do not.

One pool serves both the threads that start and read task processes and ``isolation:
thread`` attempts. It grows on demand up to :data:`MAX_THREADS` and reuses idle threads, so
the scheduler's limits (a run's ``concurrency``, pools), not the pool, decide how many run
at once: asyncio's default executor had ``min(32, cpus + 4)`` threads, which capped a run
at concurrency 8 to 6 thread tasks on a 2-core machine.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Executor, Future
from typing import Any, Callable, TypeVar

T = TypeVar("T")

MAX_THREADS = 512
"""The cap on the pool's threads, shared by every run in the process: far above a run's
``concurrency`` on one machine (each thread mostly waits on a child's pipes), but finite, so
a runaway of stuck ``isolation: thread`` calls cannot start threads without end. Jobs past
the cap wait in the queue for a free thread."""


class _DaemonThreads(Executor):
    """A pool of daemon threads that grows on demand (up to ``limit``) and reuses idle ones."""

    def __init__(self, limit: int):
        self.limit = limit
        self.jobs: queue.SimpleQueue[tuple[Future[Any] | None, Callable[[], Any], Any]] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.threads = 0
        self.idle = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.jobs.put((future, lambda: fn(*args, **kwargs), None))
        self._wake_or_grow()
        return future

    def start(self, call: Callable[[], T], report: Callable[[T | None, BaseException | None], None]) -> None:
        """Run ``call`` on a pool thread, then ``report(result, None)`` or ``report(None, error)`` there.

        No Future: for a caller that hands the outcome over itself (a process attempt calls
        its loop's ``call_soon_threadsafe``), which saves a ``concurrent.futures.Future``
        (its condition, lock and callbacks) and asyncio's chaining of it, per job. As with
        :meth:`submit`, the thread counts as idle before ``report`` runs.
        """
        self.jobs.put((None, call, report))
        self._wake_or_grow()

    def _wake_or_grow(self) -> None:
        with self.lock:
            if self.idle == 0 and self.threads < self.limit:
                self.threads += 1
                threading.Thread(target=self._work, name=f"flowrunner-daemon-{self.threads}", daemon=True).start()
            else:
                self.idle -= 1 if self.idle else 0

    def _work(self) -> None:
        while True:
            future, call, report = self.jobs.get()
            if future is None:
                try:
                    result = call()
                except BaseException as error:  # handed to the caller's report
                    self._mark_idle()
                    report(None, error)
                else:
                    self._mark_idle()
                    report(result, None)
                continue
            if not future.set_running_or_notify_cancel():
                self._mark_idle()
                continue
            try:
                result = call()
            except BaseException as error:  # handed to the awaiting coroutine
                self._mark_idle()
                future.set_exception(error)
            else:
                self._mark_idle()
                future.set_result(result)

    def _mark_idle(self) -> None:
        """Counted idle *before* the result is published: whoever reacts to the result by
        submitting the next job (the scheduler does, for the next ready task) reuses this
        thread instead of starting another."""
        with self.lock:
            self.idle += 1


_pool: _DaemonThreads | None = None
_pool_lock = threading.Lock()


def daemon_threads() -> _DaemonThreads:
    """The process's shared pool (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _DaemonThreads(MAX_THREADS)
        return _pool
