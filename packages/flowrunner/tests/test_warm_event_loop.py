"""``warm()`` runs the process's first event loops (issue 10): an empty coroutine once on a
private asyncio loop and once on the loop ``FLOWBUILDER_EVENT_LOOP`` chose, each closed at
once, so that a fresh process's first run does not pay its first loop. Nothing outlives
the call: no thread, no open loop, the thread's current loop and Ctrl-C handler unchanged.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any, Callable

import pytest

from flowbuilder import event_loop
from flowbuilder.event_loop import warm_event_loop
from flowrunner import LocalRunner
from flowrunner.tasktypes import PythonTask


class LoopRecorder:
    """Loop factories that note every loop they make and every task those loops start."""

    def __init__(self) -> None:
        self.made: list[tuple[str, asyncio.AbstractEventLoop]] = []
        self.ran: list[tuple[asyncio.AbstractEventLoop, str]] = []
        """(loop, coroutine's name) of every task a made loop started (closing one starts its own)."""

    def factory(self, kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
        def make() -> asyncio.AbstractEventLoop:
            loop = asyncio.SelectorEventLoop()
            loop.set_task_factory(self.starting_task)
            self.made.append((kind, loop))
            return loop

        return make

    def starting_task(self, loop: asyncio.AbstractEventLoop, coro: Any, **options: Any) -> asyncio.Task[Any]:
        self.ran.append((loop, coro.__qualname__))
        return asyncio.Task(coro, loop=loop, **options)


@pytest.fixture
def loops(monkeypatch: pytest.MonkeyPatch) -> LoopRecorder:
    recorder = LoopRecorder()
    monkeypatch.setattr(asyncio, "new_event_loop", recorder.factory("stock"))
    monkeypatch.setattr(event_loop, "loop_factory", lambda: recorder.factory("chosen"))
    return recorder


def test_warm_runs_the_stock_and_the_chosen_loop_once_each_and_leaves_nothing(loops: LoopRecorder) -> None:
    own = asyncio.SelectorEventLoop()
    asyncio.set_event_loop(own)
    handler = signal.getsignal(signal.SIGINT)
    threads = threading.active_count()
    try:
        warm_event_loop()
        assert [kind for kind, _ in loops.made] == ["stock", "chosen"]
        assert [loop for loop, name in loops.ran if name == "_nothing"] == [loop for _, loop in loops.made]
        assert all(loop.is_closed() for _, loop in loops.made)
        assert asyncio.get_event_loop() is own  # never installed as the thread's loop
        assert signal.getsignal(signal.SIGINT) is handler
        assert threading.active_count() == threads
    finally:
        asyncio.set_event_loop(None)
        own.close()


def test_warm_with_asyncios_stock_loop_chosen_runs_it_once(
    loops: LoopRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_loop, "loop_factory", lambda: None)  # FLOWBUILDER_EVENT_LOOP=asyncio-stock
    warm_event_loop()
    assert [kind for kind, _ in loops.made] == ["stock"]


def test_warm_inside_a_running_loop_makes_no_loop(loops: LoopRecorder) -> None:
    async def main() -> None:
        warm_event_loop()

    runner = asyncio.Runner(loop_factory=asyncio.SelectorEventLoop)
    with runner:
        runner.run(main())
    assert loops.made == []


def test_warm_with_a_wrong_loop_choice_warms_the_stock_loop_and_raises_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = LoopRecorder()
    monkeypatch.setattr(asyncio, "new_event_loop", recorder.factory("stock"))
    monkeypatch.setenv("FLOWBUILDER_EVENT_LOOP", "trio")  # the first synchronous run reports it
    warm_event_loop()
    assert [kind for kind, _ in recorder.made] == ["stock"]


def test_the_local_runners_warm_warms_the_event_loop_and_the_runner_runs_after_it(loops: LoopRecorder) -> None:
    runner = LocalRunner({"python": PythonTask()})
    runner.warm()
    assert [kind for kind, _ in loops.made] == ["stock", "chosen"]
    assert all(loop.is_closed() for _, loop in loops.made)
    runner.close()
