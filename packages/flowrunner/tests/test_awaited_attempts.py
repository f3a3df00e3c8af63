"""Plain ``async`` python tasks are awaited by the driver itself (``RunExecution._await``).

The driver calls the function (its context-free call) and awaits the coroutine in an asyncio
task that records the attempt's end itself, instead of handing an ``Attempt`` to the async
executor. Everything a run records must stay what the executor's path records: outputs,
failures, timeouts and cancels, event by event; and a runner given an async executor of its
own keeps getting every attempt.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any, Sequence

import pytest
from flowrunner_helpers import TASK_TYPES, plan_of

from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces import Attempt, RunRequest, RunResult
from flowbuilder.interfaces.executor import OnDone
from flowbuilder.interfaces.sink import EventSink
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner
from flowrunner._scheduler import RunExecution
from flowrunner.executors import AsyncExecutor

OUTCOMES = """
name: outcomes
tasks:
  - {name: doubled, type: python, config: {callable: "flowrunner_sample_callables:async_double", args: [21]}}
  - {name: next, type: python, depends_on: [doubled], config: {callable: "flowrunner_sample_callables:async_double", args: [1]}}
  - {name: refused, type: python, config: {callable: "flowrunner_sample_callables:async_task_failure", args: [no]}}
  - {name: broken, type: python, config: {callable: "flowrunner_sample_callables:async_value_error", args: [bad]}}
  - {name: slow, type: python, timeout: 0.05, config: {callable: "asyncio:sleep", args: [3]}}
  - {name: wrong_args, type: python, config: {callable: "flowrunner_sample_callables:async_double", args: [1, 2, 3]}}
on_failure: continue
"""


class CountingAsyncExecutor(AsyncExecutor):
    """flowrunner's async executor under another type: the driver must hand it every ASYNC attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[str] = []

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        self.submitted.append(attempt.task)
        super().submit(attempt, on_done)


def _run(text: str, url: str, **runner_options: Any) -> tuple[RunResult, list[RunEvent]]:
    store = MemoryStore.open(url)
    runner = LocalRunner(TASK_TYPES, **runner_options)
    try:
        result = asyncio.run(asyncio.wait_for(runner.run_async(RunRequest(plan=plan_of(text), store=store)), 30))
        return result, list(store.read_events(result.run_id))
    finally:
        runner.close_workers()
        MemoryStore.forget(url)


def _recorded(events: Sequence[RunEvent]) -> list[tuple[Any, ...]]:
    """What a run records of each task, without the instants and durations (which differ per run)."""
    shown = []
    for event in events:
        if event.task is None:
            continue
        data = {key: value for key, value in event.data.items() if key != "duration"}
        shown.append((event.kind, event.task, event.attempt, data))
    return sorted(shown, key=lambda row: (row[1], row[2], row[0].value))


def test_plain_async_tasks_are_awaited_without_the_async_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[str] = []
    original = AsyncExecutor.submit

    def counting(self: AsyncExecutor, attempt: Attempt, on_done: OnDone) -> None:
        submitted.append(attempt.task)
        original(self, attempt, on_done)

    monkeypatch.setattr(AsyncExecutor, "submit", counting)
    result, _ = _run(OUTCOMES, "memory://awaited-own")
    assert result.tasks["next"].output == 2
    assert submitted == []


def test_the_driver_records_every_outcome_as_the_async_executor_does() -> None:
    """Output, TaskFailure, other exception, timeout and a call that raises: event for event."""
    executor = CountingAsyncExecutor()
    own, own_events = _run(OUTCOMES, "memory://awaited-driver")
    _, given_events = _run(OUTCOMES, "memory://awaited-executor", executors={"async": executor})
    assert sorted(executor.submitted) == ["broken", "doubled", "next", "refused", "slow", "wrong_args"]
    assert _recorded(own_events) == _recorded(given_events)
    assert own.tasks["doubled"].output == 42 and own.tasks["next"].output == 2
    assert own.tasks["refused"].error == "no"
    assert own.tasks["broken"].error == "ValueError: bad"
    assert own.tasks["slow"].error == "timed out after 0.05s"
    assert (own.tasks["wrong_args"].error or "").startswith("TypeError: ")
    failed = {event.task: event.data for event in own_events if event.kind == EventKind.TASK_FAILED}
    assert failed["refused"]["exit_code"] == 3 and failed["slow"]["timed_out"] is True


def test_a_function_that_swallows_the_cancel_succeeds_as_on_the_executor_s_path() -> None:
    text = """
name: stubborn
tasks:
  - {name: stubborn, type: python, config: {callable: "flowrunner_sample_callables:async_swallow_cancel", args: [30]}}
"""

    async def cancelled_after_a_while(execution: RunExecution) -> RunResult:
        run = asyncio.create_task(execution.execute())
        await asyncio.sleep(0.1)
        execution.request_cancel("asked")
        return await asyncio.wait_for(run, 5)

    for options in ({}, {"executors": {"async": CountingAsyncExecutor()}}):
        execution = RunExecution(LocalRunner(TASK_TYPES, **options), RunRequest(plan=plan_of(text)), None)
        result = asyncio.run(cancelled_after_a_while(execution))
        assert result.status.value == "cancelled"
        assert result.tasks["stubborn"].status.value == "succeeded"
        assert result.tasks["stubborn"].output == "kept going"


def test_a_cancel_reaches_awaited_attempts_while_they_run() -> None:
    text = """
name: sleepers
tasks:
  - {name: a, type: python, config: {callable: "asyncio:sleep", args: [30]}}
  - {name: b, type: python, config: {callable: "asyncio:sleep", args: [30]}}
  - {name: after, type: python, depends_on: [a, b], config: {callable: "asyncio:sleep", args: [0]}}
"""
    execution = RunExecution(LocalRunner(TASK_TYPES), RunRequest(plan=plan_of(text)), None)

    async def main() -> RunResult:
        run = asyncio.create_task(execution.execute())
        await asyncio.sleep(0.1)
        assert sorted(execution.awaited) == [0, 1]
        execution.request_cancel("asked")
        return await asyncio.wait_for(run, 5)

    result = asyncio.run(main())
    assert result.status.value == "cancelled"
    assert [result.tasks[name].status.value for name in ("a", "b", "after")] == ["cancelled", "cancelled", "skipped"]
    assert not execution.awaited


class CancelOnStart(EventSink):
    """Cancels the run as soon as it sees a task start: in the very step that created the task's
    asyncio task, before its first step (a flush hands memory:// events to sinks right away)."""

    def __init__(self) -> None:
        self.execution: RunExecution | None = None

    def handle(self, events: Sequence[RunEvent]) -> None:
        if self.execution is not None and any(event.kind == EventKind.TASK_STARTED for event in events):
            self.execution.request_cancel("cancelled before the attempt's first step")
            self.execution = None


def test_an_attempt_cancelled_before_its_first_step_is_recorded_cancelled() -> None:
    """asyncio never runs the body of a task cancelled before its first step; the driver still
    records the attempt's end (else the run would wait for it for ever) and closes the coroutine."""
    text = """
name: early
tasks:
  - {name: a, type: python, config: {callable: "asyncio:sleep", args: [30]}}
"""
    sink = CancelOnStart()
    store = MemoryStore.open("memory://awaited-early")
    execution = RunExecution(LocalRunner(TASK_TYPES), RunRequest(plan=plan_of(text), store=store, sinks=[sink]), None)
    sink.execution = execution

    async def main() -> RunResult:
        run = asyncio.create_task(execution.execute())
        await asyncio.wait([run], timeout=5)
        if not run.done():  # let the run end (its drain waits for the attempt), then fail
            execution.awaited.clear()
            execution.machine.running = 0
            execution._wake()
            await asyncio.wait([run], timeout=5)
            raise AssertionError("the cancelled attempt's end was never recorded: the run waited for it")
        return run.result()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = asyncio.run(main())
        gc.collect()
    assert result.status.value == "cancelled"
    assert result.tasks["a"].status.value == "cancelled"
    assert [event.kind for event in store.read_events(result.run_id) if event.task == "a"] == [
        EventKind.TASK_STARTED,
        EventKind.TASK_CANCELLED,
    ]
    assert not [warning for warning in caught if "never awaited" in str(warning.message)]
    MemoryStore.forget("memory://awaited-early")


class _FullBlobStore(MemoryStore):
    """A store that refuses every blob (a full disk): a task's table output cannot be kept."""

    def put_blob(self, run_id: str, name: str, data: bytes) -> str:
        raise StoreError("no space left for blobs")


def _assert_the_run_raises_the_refusal(text: str, url: str) -> None:
    """Run ``text`` on a :class:`_FullBlobStore` at ``url``: ``run_async`` must raise its error
    (within 20 s: a run that waits for an end never recorded fails here, not by hanging)."""
    store = _FullBlobStore.open(url)
    runner = LocalRunner(TASK_TYPES)
    try:
        with pytest.raises(StoreError, match="no space left for blobs"):
            asyncio.run(asyncio.wait_for(runner.run_async(RunRequest(plan=plan_of(text), store=store)), 20))
    finally:
        runner.close_workers()
        MemoryStore.forget(url)


@pytest.mark.parametrize(("callable_name", "isolation"),
                         [("make_table", "inline"), ("async_make_table", "inline"), ("make_table", "thread")])  # fmt: skip
def test_a_store_refusing_an_awaited_tasks_table_stops_the_run_as_for_an_inline_task(
    callable_name: str, isolation: str
) -> None:
    """Recording the success raised inside the awaiting task (or an executor's done-callback,
    for a thread's): the run waited for ever for an end that was never recorded. It must
    raise the store's error, as the inline task's run does."""
    pytest.importorskip("polars")
    text = f"""
name: table-refused
tasks:
  - {{name: table, type: python, config: {{callable: "flowrunner_sample_callables:{callable_name}", args: [3], isolation: {isolation}}}}}
"""
    _assert_the_run_raises_the_refusal(text, f"memory://table-refused-{callable_name}-{isolation}")


def test_a_refused_success_after_another_task_woke_the_driver_in_the_same_turn_still_stops_the_run() -> None:
    """Two awaited tasks end in one loop turn: the first wakes the driver (its wake-up future is
    done), so the second's refused success has no future to raise into. The driver must raise
    it at its next turn, not wait for ever (nor spin on the loop until the run ends)."""
    pytest.importorskip("polars")
    text = """
name: table-refused-same-turn
tasks:
  - {name: first, type: python, config: {callable: "flowrunner_sample_callables:async_double", args: [1]}}
  - {name: table, type: python, config: {callable: "flowrunner_sample_callables:async_make_table", args: [3]}}
"""
    _assert_the_run_raises_the_refusal(text, "memory://table-refused-same-turn")
