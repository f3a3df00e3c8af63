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

import logging
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

    def __init__(self, limit: int, name: str = "flowrunner-daemon"):
        self.limit = limit
        self.name = name
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
                threading.Thread(target=self._work, name=f"{self.name}-{self.threads}", daemon=True).start()
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


SERVICE_THREADS = 4096
"""The cap on the service pool's threads: each serves one open store (its append loop, its
control hub), so this bounds only a process holding thousands of stores at once."""

_pool: _DaemonThreads | None = None
_service_pool: _DaemonThreads | None = None
_pool_lock = threading.Lock()


def daemon_threads() -> _DaemonThreads:
    """The process's shared pool (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _DaemonThreads(MAX_THREADS)
        return _pool


def service_threads() -> _DaemonThreads:
    """The process's pool for the runner's own long-lived loops (created on first use).

    A store's append thread (:mod:`flowrunner._store_thread`) and its control hub
    (:mod:`flowrunner._control`) run as jobs here, and so does a run's first lease write on a
    store this process does not own (Redis, a RocksDB directory served by another process). Each
    loop ends when no run uses its store, and the next store's loop takes the idle thread:
    a run on a RocksDB store no longer starts two threads of its own (0.1-0.3 ms each on a
    2-core machine, the new thread scheduled and taking the GIL: issue 10). A pool apart from
    :func:`daemon_threads`, so that ``isolation: thread`` calls stuck at that pool's cap can
    never keep a run's events from being stored or its leases from being renewed.
    """
    global _service_pool
    with _pool_lock:
        if _service_pool is None:
            _service_pool = _DaemonThreads(SERVICE_THREADS, "flowrunner-service")
        return _service_pool


def start_service(name: str, loop: Callable[[], None]) -> None:
    """Run ``loop`` on a service thread, named ``name`` while it runs (for thread dumps and
    ``py-spy``). ``loop`` returns when its job is done; the thread then waits for the next one.
    An exception out of it is logged, as an uncaught one in a thread of its own was printed."""

    def named() -> None:
        thread = threading.current_thread()
        idle_name, thread.name = thread.name, name
        try:
            loop()
        finally:
            thread.name = idle_name

    service_threads().start(named, _log_failure)


def _log_failure(result: object, error: BaseException | None) -> None:
    if error is not None:
        logging.getLogger("flowrunner").error("a runner service thread failed", exc_info=error)
