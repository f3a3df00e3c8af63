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
        if asyncio._get_running_loop() is not None:  # as Runner.run refuses it, before it makes a loop
            raise RuntimeError(
                "FlowBuilder's synchronous API was called from a running event loop: await its async flavour"
            )
        factory = loop_factory()
    except BaseException:
        main.close()  # never started: no "coroutine was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return _run_until_complete(runner.get_loop(), main)


def warm_event_loop() -> None:
    """Run an empty coroutine once on a private asyncio loop and once on the chosen loop
    (:func:`run_coroutine`'s, when that is another kind), closing each at once.

    A process's first event loop costs about 0.2 ms more than every later one: asyncio's
    event loop policy and the first selector, self-pipe and task are made for the first
    time, and the loop's and the runner's code runs for the first time. That was most of
    what a fresh process's first short run still paid over a repeat run after ``warm()``
    (issue 10), so :meth:`LocalRunner.warm <flowrunner.runner.LocalRunner.warm>` pays it
    here. asyncio's stock loop is the one ``asyncio.run`` makes for an application that
    awaits the async API; the chosen one is what the synchronous API and ``flowbuilder run``
    use. Nothing outlives the call: no thread is started (no loop's default executor is
    made), every loop is closed with its descriptors, and the thread's current event loop
    is left as it was (the loops are made by their factories, never installed). Skipped
    when this thread already runs a loop (the loop code is warm, and another loop could not
    run here); a :data:`VARIABLE` that names no loop skips the chosen one (the first
    synchronous run reports it).
    """
    if asyncio._get_running_loop() is not None:
        return
    factories: list[Callable[[], asyncio.AbstractEventLoop]] = [asyncio.new_event_loop]
    try:
        chosen = loop_factory()
    except ConfigurationError:
        chosen = None
    if chosen is not None:
        factories.append(chosen)
    for factory in factories:
        with asyncio.Runner(loop_factory=factory) as runner:
            _run_until_complete(runner.get_loop(), _nothing())


async def _nothing() -> None:
    """The coroutine :func:`warm_event_loop` runs."""


def _run_until_complete(loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, T]) -> T:
    """What :meth:`asyncio.Runner.run` does, with a Ctrl-C handler that is cheap to look at.

    Why not ``runner.run(main)``: its SIGINT handler is a ``functools.partial`` holding the
    main task, and each of the three times the ``signal`` module hands a handler back
    (installing, checking, restoring) it tries to turn it into an enum member first, whose
    error message formats the task's repr (its coroutine, its frame): about 50 µs per run,
    an eighth of a repeat run's fixed cost (bench/run_fixed_cost.py). This handler does what
    asyncio's does (the first Ctrl-C cancels the main task, so the run ends as a cancelled
    run and the caller gets KeyboardInterrupt; a second one raises KeyboardInterrupt at
    once), and is installed under the same condition: on the main thread, when SIGINT still
    has Python's default handler (the CLI installs its own, and keeps it).
    """
    import signal
    import threading

    task = loop.create_task(main)
    interrupts = 0

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1 and not task.done():
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake the loop from its wait
            return
        raise KeyboardInterrupt()

    installed = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if installed:
        signal.signal(signal.SIGINT, on_sigint)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if interrupts and task.uncancel() == 0:
            raise KeyboardInterrupt() from None
        raise
    finally:
        if installed and signal.getsignal(signal.SIGINT) is on_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)


__all__ = ["CHOICES", "VARIABLE", "loop_factory", "run_coroutine", "warm_event_loop"]
