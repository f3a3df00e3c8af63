"""Ctrl-C and SIGTERM while a run is in progress: cancel first, and always end on the second.

``loop.add_signal_handler`` is not enough: its callback runs only when the event loop gets
control back, and a task that never returns control (a plain function called inline on the
loop's thread) would keep a run alive through any number of signals. So these are Python
signal handlers, which run in the main thread between bytecodes, whatever it is doing:

1. The first SIGINT/SIGTERM asks the runner to cancel (through the loop, thread-safely)
   and notes it. If the loop has not run that request after ``STUCK_SECONDS``, the main
   thread is stuck in synchronous code: it gets a ``KeyboardInterrupt``, which the runner
   treats as a cancel of the attempt it interrupts. Code that swallows that too gets
   ``FORCE_EXIT_SECONDS`` more, then the process ends as in 2.
2. The second asks the runner to kill what is still shutting down and, if the process has
   not exited ``FORCE_EXIT_SECONDS`` later, ends it with exit status 130 at once. Events
   already stored stay stored; the runner's guardian process ends its task processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, Callable

STUCK_SECONDS = 1.0
"""How long the first request may wait for the event loop before the main thread is interrupted."""
FORCE_EXIT_SECONDS = 3.0
"""How long after the second request the process may take to exit on its own."""
EXIT_INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """Installs the handlers for the duration of a ``with`` block (main thread only)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, cancel: Callable[[], None], note: Callable[[str], None]):
        self.loop = loop
        self.cancel = cancel
        self.note = note
        self.presses = 0
        self.acknowledged = threading.Event()
        self.stuck = False
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        for sig in SIGNALS:
            self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stuck:  # our own nudge (see _watch_loop): stop the synchronous code
            self.stuck = False
            raise KeyboardInterrupt
        self.presses += 1
        # Notes go through the loop: printing here could re-enter a print the handler interrupted.
        if self.presses == 1:
            self.loop.call_soon_threadsafe(self.note, "cancelling (Ctrl-C again to kill now)")
            self.loop.call_soon_threadsafe(self._request)
            threading.Thread(target=self._watch_loop, name="flowbuilder-interrupt", daemon=True).start()
        else:
            self.loop.call_soon_threadsafe(self.note, "killing running tasks")
            self.loop.call_soon_threadsafe(self.cancel)
            if self.presses == 2:
                threading.Thread(target=self._force_exit, name="flowbuilder-force-exit", daemon=True).start()

    def _request(self) -> None:
        self.acknowledged.set()
        self.cancel()

    def _watch_loop(self) -> None:
        if self.acknowledged.wait(STUCK_SECONDS):
            return
        self.stuck = True
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        if not self.acknowledged.wait(FORCE_EXIT_SECONDS):  # the stuck code swallowed the interrupt
            self._exit_now("the run did not respond to the interrupt")

    def _force_exit(self) -> None:
        threading.Event().wait(FORCE_EXIT_SECONDS)
        self._exit_now(f"the run did not stop within {FORCE_EXIT_SECONDS:g}s of the second interrupt")

    def _exit_now(self, why: str) -> None:
        self.note(f"{why}; exiting now")
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed pipe must not keep the process alive
                pass
        os._exit(EXIT_INTERRUPTED)
