"""Handing log lines read on a worker thread to the attempt's event loop.

The threads that read a child's pipes (shell and script tasks) and a process pool's result
pipe (``isolation: process`` python tasks) must not touch the run's log buffer themselves:
it belongs to the loop. Both pass each batch of lines here.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Sequence


def hand_lines_to_loop(loop: asyncio.AbstractEventLoop, log: Callable[[str, str], None],
                       lines: Sequence[tuple[str, str]]) -> None:  # fmt: skip
    """Call ``log(stream, line)`` for each of ``lines`` on ``loop``'s thread, in order.

    A closed loop means nobody reads this attempt's log any more: the lines are dropped.
    """

    def write() -> None:
        for stream, line in lines:
            log(stream, line)

    try:
        loop.call_soon_threadsafe(write)
    except RuntimeError:
        pass
