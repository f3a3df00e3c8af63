"""asyncio's loop with timers that fire on time, not up to a millisecond late.

Why: asyncio's loop waits for its next timer with ``epoll_wait``, whose timeout is whole
milliseconds; ``selectors.EpollSelector`` rounds every wait *up* (and ``select.epoll.poll``
rounds again). So each ``asyncio.sleep``, ``call_later`` and timeout ends on average half a
millisecond late, and a workflow of thousands of millisecond-scale ``async`` tasks pays it
once per task on its critical path: ``bench/real_dag.py`` measured a 5,000-task DAG whose
ideal 8-slot schedule takes 1 s at 1.45 s on asyncio's stock loop — and a minimal
hand-written scheduler on the same loop at 1.41 s, so the loop, not the engine, lost it.

How: before the millisecond wait, :class:`PreciseEpollSelector` waits on the epoll
descriptor itself with ``select()``, whose timeout has microsecond resolution and which
the kernel ends on a high-resolution timer. The epoll descriptor is readable exactly when
one of the registered descriptors has an event, so ``select()`` returns at the first event
or at the deadline, whichever comes first; the events (if any) are then collected with a
non-blocking ``epoll_wait``. Cost: one more system call per wait that has a deadline
(about a microsecond); waits with no deadline (no timer pending) and non-blocking polls
are the stock ones. A descriptor number too large for ``select()`` (``FD_SETSIZE``, 1024)
falls back to the stock wait, so this can only ever be as coarse as asyncio itself.

Only Linux's epoll needs this: macOS's kqueue already takes a nanosecond timeout, and
uvloop (libuv) keeps millisecond timers of its own. ``FLOWBUILDER_EVENT_LOOP=asyncio-stock``
chooses the stock loop (:mod:`flowbuilder.event_loop`).
"""

from __future__ import annotations

import asyncio
import select
import selectors
from typing import Any

FD_SETSIZE = 1024
"""``select()`` takes descriptors below this (glibc's fixed ``fd_set``); Python raises above it."""

AVAILABLE = hasattr(selectors, "EpollSelector")
"""Only where asyncio would choose epoll (Linux)."""

_wait_readable = select.select


if AVAILABLE:

    class PreciseEpollSelector(selectors.EpollSelector):
        """An epoll selector whose timed waits end at the deadline, to the microsecond.

        Behaves as :class:`selectors.EpollSelector` in every other respect (registration,
        the events it returns); see the module docstring for how and why.
        """

        def __init__(self) -> None:
            super().__init__()
            self._precise = self.fileno() < FD_SETSIZE

        def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            if timeout is not None and timeout > 0 and self._precise:
                # Returns early when an event is ready; PEP 475 resumes it after a signal.
                _wait_readable((self.fileno(),), (), (), timeout)
                timeout = 0
            return super().select(timeout)


def new_precise_loop() -> asyncio.AbstractEventLoop:
    """A new asyncio selector loop on :class:`PreciseEpollSelector` (Linux only)."""
    return asyncio.SelectorEventLoop(PreciseEpollSelector())


def is_precise(loop: Any) -> bool:
    """Whether ``loop`` waits with :class:`PreciseEpollSelector` (used by tests and benchmarks)."""
    selector = getattr(loop, "_selector", None)
    return AVAILABLE and isinstance(selector, PreciseEpollSelector) and selector._precise


__all__ = ["AVAILABLE", "FD_SETSIZE", "is_precise", "new_precise_loop"]
