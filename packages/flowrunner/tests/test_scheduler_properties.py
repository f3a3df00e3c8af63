"""Property tests of the scheduler on random DAGs with random failures, retries, `when` skips
and cancellations: every attempt runs exactly once, only after all dependencies succeeded,
and the succeeded/failed/skipped sets are exactly the ones the rules give."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, ClassVar, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from flowbuilder.compiler import compile_workflow
from flowbuilder.events import EventKind, RunStatus, TaskStatus, fold_events
from flowbuilder.interfaces import ExecutionMode, RunRequest, TaskContext, TaskFailure, TaskType
from flowbuilder.model import Workflow
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner

JOURNAL: list[tuple[int, str, str, int]] = []
_CLOCK = itertools.count()
CANCEL: dict[str, asyncio.Event] = {}
POOL_LIMITS = {"narrow": 1, "pair": 2}
RUNNING: dict[str, int] = {}
PEAK: dict[str, int] = {}


class ProbeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    failures: int = 0
    mode: Literal["inline", "async"] = "inline"
    sleep: float = 0.0
    cancel_run: bool = False
    pool: str | None = None


class Probe(TaskType):
    """Journals start/end of every attempt; fails its first ``failures`` attempts."""

    name: ClassVar[str] = "probe"
    config_model: ClassVar[type[BaseModel]] = ProbeConfig

    def execution_mode(self, config: BaseModel) -> ExecutionMode:
        assert isinstance(config, ProbeConfig)
        return ExecutionMode.ASYNC if config.mode == "async" else ExecutionMode.INLINE

    def run(self, config: BaseModel, context: TaskContext) -> Any:
        assert isinstance(config, ProbeConfig)
        JOURNAL.append((next(_CLOCK), "start", context.task, context.attempt))
        if config.pool is not None:
            RUNNING[config.pool] = RUNNING.get(config.pool, 0) + 1
            PEAK[config.pool] = max(PEAK.get(config.pool, 0), RUNNING[config.pool])
        if config.cancel_run:
            CANCEL["event"].set()
        if config.mode == "async":
            return self._later(config, context)
        return self._finish(config, context)

    async def _later(self, config: ProbeConfig, context: TaskContext) -> Any:
        try:
            await asyncio.sleep(config.sleep)
        except asyncio.CancelledError:
            if config.pool is not None:
                RUNNING[config.pool] -= 1
            raise
        return self._finish(config, context)

    def _finish(self, config: ProbeConfig, context: TaskContext) -> Any:
        if config.pool is not None:
            RUNNING[config.pool] -= 1
        if context.attempt <= config.failures:
            JOURNAL.append((next(_CLOCK), "fail", context.task, context.attempt))
            raise TaskFailure(f"planned failure {context.attempt}")
        JOURNAL.append((next(_CLOCK), "end", context.task, context.attempt))
        return context.task


@st.composite
def dags(draw: Any, cancelling: bool = False) -> dict[str, Any]:
    count = draw(st.integers(1, 12))
    tasks = []
    for index in range(count):
        deps = sorted(draw(st.sets(st.integers(0, index - 1), max_size=3))) if index else []
        task: dict[str, Any] = {
            "name": f"t{index}",
            "type": "probe",
            "depends_on": [f"t{d}" for d in deps],
            "config": {
                "failures": draw(st.integers(0, 3)),
                "mode": draw(st.sampled_from(["inline", "async"])),
                "sleep": draw(st.sampled_from([0.0, 0.001, 0.003])),
            },
            "retry": {"attempts": draw(st.integers(1, 3)), "backoff": 0.001, "jitter": 0},
        }
        if draw(st.booleans()) and draw(st.booleans()):
            task["when"] = "${{ false }}"
        pool = draw(st.sampled_from([None, None, "narrow", "pair"]))
        if pool is not None:
            task["pool"] = pool
            task["config"]["pool"] = pool
        tasks.append(task)
    if cancelling:
        victim = draw(st.integers(0, count - 1))
        tasks[victim]["config"]["cancel_run"] = True
        tasks[victim]["config"]["mode"] = "async"
        tasks[victim]["config"]["sleep"] = 5.0
        tasks[victim].pop("when", None)
        tasks[victim]["config"]["failures"] = 0
    return {"name": "random", "on_failure": "continue", "concurrency": draw(st.integers(1, 4)), "pools": POOL_LIMITS,
            "tasks": tasks}  # fmt: skip


def execute(spec: dict[str, Any]) -> tuple[Any, list[Any], dict[str, Any]]:
    JOURNAL.clear()
    RUNNING.clear()
    PEAK.clear()
    workflow = Workflow.model_validate(spec)
    plan = compile_workflow(workflow, {"probe": Probe()})
    store = MemoryStore.open("memory://properties")
    runner = LocalRunner({"probe": Probe()})

    async def go() -> Any:
        CANCEL["event"] = asyncio.Event()
        return await asyncio.wait_for(runner.run_async(RunRequest(plan=plan, store=store), CANCEL["event"]), 30)

    result = asyncio.run(go())
    events = store.read_events(result.run_id)
    store.delete_run(result.run_id)
    return result, events, {task["name"]: task for task in spec["tasks"]}


def expected_statuses(tasks: dict[str, Any]) -> dict[str, tuple[TaskStatus, int]]:
    """What the rules say: (status, attempts) of every task, for on_failure: continue."""
    outcome: dict[str, tuple[TaskStatus, int]] = {}
    for name, task in tasks.items():  # dependencies always come earlier
        runnable = all(outcome[dep][0] is TaskStatus.SUCCEEDED for dep in task["depends_on"]) and "when" not in task
        if not runnable:
            outcome[name] = (TaskStatus.SKIPPED, 0)
            continue
        failures, attempts = task["config"]["failures"], task["retry"]["attempts"]
        outcome[name] = (TaskStatus.SUCCEEDED, failures + 1) if failures < attempts else (TaskStatus.FAILED, attempts)
    return outcome


def check_attempts_ran_once_each_after_their_dependencies(tasks: dict[str, Any]) -> None:
    starts = [(tick, name, attempt) for tick, kind, name, attempt in JOURNAL if kind == "start"]
    successes = {name: tick for tick, kind, name, _ in JOURNAL if kind == "end"}
    per_task: dict[str, list[int]] = {}
    for tick, name, attempt in starts:
        per_task.setdefault(name, []).append(attempt)
        for dep in tasks[name]["depends_on"]:
            assert dep in successes and successes[dep] < tick, f"{name} started before {dep} succeeded"
    for name, attempts in per_task.items():
        assert attempts == list(range(1, len(attempts) + 1)), f"{name} attempts {attempts}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_random_dags_run_exactly_the_tasks_the_rules_allow(spec: dict[str, Any]) -> None:
    result, events, tasks = execute(spec)
    check_attempts_ran_once_each_after_their_dependencies(tasks)
    assert all(PEAK[pool] <= POOL_LIMITS[pool] for pool in PEAK), PEAK
    expected = expected_statuses(tasks)
    for name, (status, attempts) in expected.items():
        assert result.tasks[name].status is status, name
        assert result.tasks[name].attempts == attempts, name
    any_failed = any(status is TaskStatus.FAILED for status, _ in expected.values())
    assert result.status is (RunStatus.FAILED if any_failed else RunStatus.SUCCEEDED)
    folded = fold_events(result.run_id, events)
    assert {n: s.status for n, s in folded.tasks.items() if s.status is not TaskStatus.PENDING} == {
        n: s.status for n, s in result.tasks.items()
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags(cancelling=True))
def test_cancelled_random_dags_never_break_order_and_finish_every_task(spec: dict[str, Any]) -> None:
    result, events, tasks = execute(spec)
    check_attempts_ran_once_each_after_their_dependencies(tasks)
    canceller = next(name for name, task in tasks.items() if task["config"].get("cancel_run"))
    if result.tasks[canceller].attempts:  # it ran, so the run was cancelled while it slept
        assert result.status is RunStatus.CANCELLED
        assert result.tasks[canceller].status is TaskStatus.CANCELLED
        cancel_seq = next(e.seq for e in events if e.kind is EventKind.RUN_CANCEL_REQUESTED)
        assert not any(e.kind is EventKind.TASK_STARTED and e.seq > cancel_seq for e in events)
    assert all(state.status.finished for state in result.tasks.values())
    assert events[-1].kind is EventKind.RUN_FINISHED


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_with_on_failure_stop_nothing_starts_after_the_first_final_failure(spec: dict[str, Any]) -> None:
    spec = {**spec, "on_failure": "stop"}
    result, events, tasks = execute(spec)
    check_attempts_ran_once_each_after_their_dependencies(tasks)
    failures = [e.seq for e in events if e.kind is EventKind.TASK_FAILED]
    if failures:
        assert result.status is RunStatus.FAILED
        assert not any(e.kind is EventKind.TASK_STARTED and e.seq > failures[0] for e in events)
    assert all(state.status.finished for state in result.tasks.values())
