"""Which event loop the synchronous entry points run a run on: asyncio's own, or uvloop's.

``FLOWBUILDER_EVENT_LOOP`` chooses: ``asyncio`` (the default: asyncio's loop, on Linux with
timers that fire on time, :mod:`flowbuilder._precise_wait`), ``asyncio-stock`` (asyncio's
loop exactly as it comes), ``uvloop`` (fails in one line when uvloop is not installed) or
``auto`` (uvloop when installed, else the default). uvloop is not a dependency
(``pip install 'flowbuilder-runner[uvloop]'``). Why there is a choice: with many short
``async`` tasks the loop itself is the bottleneck: asyncio's stock ``epoll`` waits are
rounded up to the millisecond, so every millisecond-scale ``asyncio.sleep`` overshoots, and
every callback is Python. bench/real_dag.py measures the three loops (docs/runner.md,
"Choosing the event loop"). Why uvloop is not the default: a program that embeds FlowBuilder
in its own loop keeps that loop, and subprocess and signal handling differ in small ways
between the two loops; a user opts in once they have tried it.

Used by ``flowbuilder run`` (and ``resume``/``retry``), :meth:`flowbuilder.interfaces.Runner.run`
and flowrunner's synchronous API; ``run_async`` runs on whatever loop is running.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Coroutine, TypeVar

from flowbuilder.errors import ConfigurationError

T = TypeVar("T")

VARIABLE = "FLOWBUILDER_EVENT_LOOP"
CHOICES = ("asyncio", "asyncio-stock", "uvloop", "auto")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The chosen loop's constructor, or None for asyncio's stock loop (``asyncio.run``'s)."""
    choice = os.environ.get(VARIABLE, "").strip().lower() or "asyncio"
    if choice not in CHOICES:
        raise ConfigurationError(f"{VARIABLE}={choice!r}: use one of {', '.join(CHOICES)}")
    if choice == "asyncio-stock":
        return None
    if choice == "asyncio":
        return _default_factory()
    try:
        import uvloop
    except ImportError:
        if choice == "auto":
            return _default_factory()
        raise ConfigurationError(
            f"{VARIABLE}=uvloop, but uvloop is not installed: pip install 'flowbuilder-runner[uvloop]'"
        ) from None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _default_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """asyncio's loop with precise timers where that applies (epoll), else asyncio's own."""
    from flowbuilder import _precise_wait

    return _precise_wait.new_precise_loop if _precise_wait.AVAILABLE else None


def run_coroutine(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the chosen loop."""
    try:
        factory = loop_factory()
    except BaseException:
        main.close()  # never started: no "coroutine was never awaited" warning
        raise
    if factory is None:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


__all__ = ["CHOICES", "VARIABLE", "loop_factory", "run_coroutine"]
