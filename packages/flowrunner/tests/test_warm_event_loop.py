"""``warm()`` runs the process's first event loops and its first run (issue 10): a coroutine
once on a private asyncio loop and once on the loop ``FLOWBUILDER_EVENT_LOOP`` chose, each
closed at once; the local runner's is a run of its warm-up workflow with no store and no
sinks. So a fresh process's first run pays neither its first loop nor the first pass through
the run code. Nothing outlives the call: no thread, no open loop, the thread's current loop
and Ctrl-C handler unchanged.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any, Callable

import pytest

from flowbuilder import event_loop
from flowbuilder.event_loop import warm_event_loop
from flowbuilder.interfaces import RunRequest, RunResult
from flowrunner import LocalRunner
from flowrunner.runner import WARM_UP_WORKFLOW
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


class RecordingRunner(LocalRunner):
    """A local runner that notes each run's request and result (the warm-up runs among them)."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.runs: list[tuple[RunRequest, RunResult]] = []

    async def run_async(self, request: RunRequest, cancel: asyncio.Event | None = None) -> RunResult:
        result = await super().run_async(request, cancel)
        self.runs.append((request, result))
        return result


def test_the_local_runners_warm_runs_its_warm_up_workflow_on_each_loop_with_no_store_or_sink(
    loops: LoopRecorder,
) -> None:
    runner = RecordingRunner({"python": PythonTask()}, keep_events=True)
    threads = threading.active_count()
    runner.warm()
    assert [kind for kind, _ in loops.made] == ["stock", "chosen"]
    assert all(loop.is_closed() for _, loop in loops.made)
    assert threading.active_count() == threads
    assert len(runner.runs) == 2  # one per loop
    for request, result in runner.runs:
        assert request.plan.workflow.name == WARM_UP_WORKFLOW["name"]
        assert request.store is None and not request.sinks
        assert result.succeeded and [result.output("first"), result.output("second")] == [1, 2]
    runner.close()


def test_warm_with_another_python_type_runs_only_the_empty_coroutine(loops: LoopRecorder) -> None:
    class OtherPython(PythonTask):
        """A plugin's replacement of the ``python`` type: its calls are not the runner's to make."""

    runner = RecordingRunner({"python": OtherPython()})
    runner.warm()
    assert runner.runs == []
    assert [name for _, name in loops.ran if name != "_nothing"] == [
        "BaseEventLoop.shutdown_asyncgens",
        "BaseEventLoop.shutdown_default_executor",
    ] * 2  # closing each loop; no run's task
    runner.close()


def test_warm_inside_a_running_loop_runs_nothing(loops: LoopRecorder) -> None:
    runner = RecordingRunner({"python": PythonTask()})

    async def main() -> None:
        runner.warm()

    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as outer:
        outer.run(main())
    assert runner.runs == [] and loops.made == []
    runner.close()


def test_warm_with_an_inline_executor_of_the_users_own_hands_it_no_warm_up_attempt(loops: LoopRecorder) -> None:
    """The warm-up run is the runner's private affair: an executor the user gave (a remote one,
    one that binds to the first loop it sees) must never get its attempts, nor run on its
    private loops."""
    from flowbuilder.interfaces import Attempt, ExecutionMode
    from flowbuilder.interfaces.executor import OnDone
    from flowrunner.executors import InlineExecutor

    class UsersInlineExecutor(InlineExecutor):
        def __init__(self) -> None:
            super().__init__()
            self.submitted: list[str] = []

        def submit(self, attempt: Attempt, on_done: OnDone) -> None:
            self.submitted.append(attempt.task)
            super().submit(attempt, on_done)

    for options in ({"executor": UsersInlineExecutor()}, {"executors": {ExecutionMode.INLINE: UsersInlineExecutor()}}):
        runner = RecordingRunner({"python": PythonTask()}, **options)
        runner.warm()
        users = runner.executors[ExecutionMode.INLINE]
        assert isinstance(users, UsersInlineExecutor)
        assert users.submitted == [] and runner.runs == []
        assert [kind for kind, _ in loops.made][-2:] == ["stock", "chosen"]  # the loops are still warmed
        runner.close()
