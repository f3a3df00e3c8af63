"""flowrunner's attempt executors, and a foreign one, against the executor and runner contracts.

:class:`OtherThreadExecutor` stands in for a remote executor (Redis Streams workers, next):
it runs every attempt on threads of its own, outside the scheduler's loop, and posts each
outcome back with ``call_soon_threadsafe``. A :class:`LocalRunner` given it passes the whole
runner contract: the scheduling rules do not depend on where attempts run.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Iterator

import pytest

from flowbuilder.interfaces import Attempt, AttemptExecutor, AttemptOutcome, ExecutionMode, RunRequest, TaskFailure
from flowbuilder.interfaces.executor import OnDone
from flowbuilder_contracts import AttemptExecutorContract, RunnerContract
from flowbuilder_contracts.runner import compile_yaml
from flowbuilder_contracts.runner_tasks import contract_task_types
from flowrunner import LocalRunner
from flowrunner.executors import AsyncExecutor, InlineExecutor, ProcessExecutor, ThreadExecutor


class OtherThreadExecutor(AttemptExecutor):
    """Runs each attempt on a thread pool of its own; reports on the submitting loop's thread.

    Timeouts are enforced by a timer on the scheduler's loop; cancel reports at once and
    abandons the call (a remote executor would tell its worker to stop).
    """

    name: ClassVar[str] = "other-thread"

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="other-executor")
        self.pending: dict[Attempt, tuple[OnDone, asyncio.TimerHandle | None]] = {}
        self.ran_on: set[str] = set()
        self.submitted = 0
        self.closed = False

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(attempt.timeout, self._timed_out, attempt) if attempt.timeout is not None else None
        self.pending[attempt] = (on_done, timer)
        self.submitted += 1
        self.pool.submit(self._work, loop, attempt)

    def _work(self, loop: asyncio.AbstractEventLoop, attempt: Attempt) -> None:
        self.ran_on.add(threading.current_thread().name)
        try:
            result = attempt.task_type.run(attempt.config, attempt.context)
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            outcome = AttemptOutcome.succeeded(result)
        except Exception as error:
            outcome = AttemptOutcome.failed(error)
        loop.call_soon_threadsafe(self._report, attempt, outcome)

    def _report(self, attempt: Attempt, outcome: AttemptOutcome) -> None:
        held = self.pending.pop(attempt, None)
        if held is None:
            return  # cancelled or timed out already: that was its one outcome
        on_done, timer = held
        if timer is not None:
            timer.cancel()
        on_done(attempt, outcome)

    def _timed_out(self, attempt: Attempt) -> None:
        assert attempt.timeout is not None
        failure = TaskFailure(f"timed out after {attempt.timeout:g}s", timed_out=True)
        self._report(attempt, AttemptOutcome.failed(failure))

    def cancel(self, attempt: Attempt) -> None:
        self._report(attempt, AttemptOutcome.cancelled())

    def close(self) -> None:
        self.closed = True
        self.pool.shutdown(wait=False, cancel_futures=True)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class TestInlineExecutorContract(AttemptExecutorContract):
    @pytest.fixture
    def executor(self) -> AttemptExecutor:
        return InlineExecutor()


class TestAsyncExecutorContract(AttemptExecutorContract):
    @pytest.fixture
    def executor(self) -> AttemptExecutor:
        return AsyncExecutor()


class TestThreadExecutorContract(AttemptExecutorContract):
    @pytest.fixture
    def executor(self) -> AttemptExecutor:
        return ThreadExecutor(LocalRunner({}))


class TestProcessExecutorContract(AttemptExecutorContract):
    @pytest.fixture
    def executor(self) -> Iterator[AttemptExecutor]:
        runner = LocalRunner({}, workers=2)
        yield ProcessExecutor(runner)
        runner.close_workers()


class TestOtherThreadExecutorContract(AttemptExecutorContract):
    @pytest.fixture
    def executor(self) -> AttemptExecutor:
        return OtherThreadExecutor()


class TestLocalRunnerWithAnotherExecutor(RunnerContract):
    """The runner contract, every attempt run by an executor that is not flowrunner's."""

    @pytest.fixture
    def make_runner(self) -> Iterator[Any]:
        made: list[tuple[LocalRunner, OtherThreadExecutor]] = []

        def make(task_types: Any) -> LocalRunner:
            executor = OtherThreadExecutor()
            runner = LocalRunner(task_types=task_types, executor=executor)
            made.append((runner, executor))
            return runner

        yield make
        for runner, _ in made:
            runner.close()


def test_a_runner_uses_the_executor_it_is_given_for_every_mode() -> None:
    executor = OtherThreadExecutor()
    runner = LocalRunner({}, executor=executor)
    assert set(runner.executors) == set(ExecutionMode)
    assert all(chosen is executor for chosen in runner.executors.values())
    runner.close()


def test_every_attempt_of_a_run_goes_through_the_given_executor() -> None:
    """Inline, async and foreach item attempts alike: none is called on the scheduler's thread."""
    types = contract_task_types()
    plan = compile_yaml(
        """
name: elsewhere
tasks:
  - {name: a, type: contract_value, config: {value: 1, mode: inline}}
  - {name: b, type: contract_value, depends_on: [a], config: {value: "${{ tasks.a.output + 1 }}", mode: async}}
  - {name: c, type: contract_value, depends_on: [b], foreach: [1, 2, 3], config: {value: "${{ item }}", mode: inline}}
""",
        types,
    )
    executor = OtherThreadExecutor()
    runner = LocalRunner(types, executor=executor)
    result = runner.run(RunRequest(plan=plan))
    assert result.succeeded, result.status
    assert result.output("b") == 2 and result.output("c") == [1, 2, 3]
    assert executor.ran_on and all(name.startswith("other-executor") for name in executor.ran_on)
    assert executor.submitted == 5
    runner.close()


def test_a_runner_leaves_the_executor_it_was_given_open() -> None:
    """The caller owns a given executor: closing the runner does not close it (it may serve others)."""
    executor = OtherThreadExecutor()
    LocalRunner({}, executor=executor).close()
    assert not executor.closed


def test_executors_by_mode_replace_only_those_modes() -> None:
    executor = OtherThreadExecutor()
    runner = LocalRunner({}, executors={"process": executor})
    assert runner.executors[ExecutionMode.PROCESS] is executor
    assert isinstance(runner.executors[ExecutionMode.INLINE], InlineExecutor)
    assert isinstance(runner.executors[ExecutionMode.THREAD], ThreadExecutor)
    runner.close()
