"""Threads for ``ExecutionMode.THREAD`` attempts (blocking library code), owned by a runner.

Why not asyncio's default executor: it has ``min(32, cpus + 4)`` threads whatever the run
allows, so on a 2-core machine a run at concurrency 8 never had more than 6 thread tasks
running at once. This pool grows on demand, one thread per attempt that finds no idle
thread, and reuses idle threads; how many attempts run at once is the scheduler's business
(the run's ``concurrency``, pools and per-type limits), so the pool adds no limit of its own.

Threads are daemons: a blocking call still running when the interpreter exits does not
hold the exit up (``ThreadPoolExecutor`` joins its threads first). A thread cannot be
killed, so a timed-out or cancelled THREAD attempt is abandoned, not stopped: its result
is ignored and its thread returns to the pool when the call ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from concurrent.futures import Future
from functools import partial
from typing import Any, Callable

_STOP = None


class AttemptThreads:
    """A growing pool of daemon threads; :meth:`run` awaits one call in one of them."""

    def __init__(self, name: str = "flowrunner-thread"):
        self._name = name
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self.started = 0
        """Threads started so far (the most THREAD attempts that ever ran at once)."""

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a pool thread, with the caller's context variables."""
        future: Future[Any] = Future()
        self._calls.put((future, partial(contextvars.copy_context().run, function, *args)))
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                self.started += 1
                threading.Thread(target=self._work, name=f"{self._name}-{self.started}", daemon=True).start()
        return await asyncio.wrap_future(future)

    def _work(self) -> None:
        while True:
            job = self._calls.get()
            if job is _STOP:
                return
            future, call = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:  # handed to the awaiting coroutine
                    future.set_exception(error)
            with self._lock:
                self._idle += 1

    def close(self) -> None:
        """Let idle threads end; threads still in a call end when it returns."""
        with self._lock:
            for _ in range(self.started):
                self._calls.put(_STOP)
            self.started = self._idle = 0
