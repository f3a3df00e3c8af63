"""What a run works out once per task before its first attempt: the plain tasks' modes and envs.

Every run pays this setup for every task, so the usual case takes shortcuts (a fan-out's
tasks share one validated config); the shortcuts must give each task exactly what asking
for it alone gives.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flowbuilder.compiler import compile_workflow
from flowbuilder.interfaces import ExecutionMode
from flowbuilder.model import Workflow
from flowrunner.scheduling.inputs import AttemptInputs, same_stretches
from flowrunner.scheduling.ready_queue import ReadyQueue
from flowrunner.scheduling.state import RunStateMachine
from flowrunner.scheduling.task_columns import mapped
from flowrunner.tasktypes import PythonTask
from flowrunner.tasktypes.python import PythonConfig


class ModeCountingPython(PythonTask):
    """Counts the execution-mode questions."""

    name: ClassVar[str] = "python"
    asked: ClassVar[list[str]] = []

    def execution_mode(self, config: PythonConfig) -> ExecutionMode:  # type: ignore[override]
        ModeCountingPython.asked.append(config.isolation)
        return super().execution_mode(config)


class _Writer:
    """The state machine's event log, unused here (no attempt runs)."""

    def __init__(self) -> None:
        self.run_id = "run"
        self.seq = 0
        self.pending: list[Any] = []
        self.backlogged = False

    def emit(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self) -> None:
        pass


def _inputs(tasks: list[dict[str, Any]], workflow_env: dict[str, str] | None = None) -> AttemptInputs:
    task_type = ModeCountingPython()
    workflow = {"name": "setup", "params": {"name": {"default": "x"}}, "env": workflow_env or {}, "tasks": tasks}
    plan = compile_workflow(Workflow.model_validate(workflow), {"python": task_type})
    types: list[Any] = [task_type] * len(plan)
    queue = ReadyQueue([0] * len(plan), plan.remaining_path, lambda: 0.0)
    machine = RunStateMachine(plan, _Writer(), queue, 4)
    ModeCountingPython.asked.clear()
    return AttemptInputs(plan, types, machine, {"name": "x"}, {})


INLINE = {"callable": "flowrunner_sample_callables:noop"}
THREAD = {"callable": "flowrunner_sample_callables:noop", "isolation": "thread"}


def test_each_plain_task_gets_its_own_config_s_mode_and_a_shared_config_is_asked_once_per_stretch() -> None:
    inputs = _inputs([
        {"name": "a", "type": "python", "config": INLINE},
        {"name": "b", "type": "python", "config": dict(INLINE)},
        {"name": "c", "type": "python", "config": THREAD},
        {"name": "d", "type": "python", "config": dict(INLINE)},
        {"name": "e", "type": "python", "config": {"callable": "${{ params.name }}"}},
    ])  # fmt: skip
    assert inputs.modes == [ExecutionMode.INLINE, ExecutionMode.INLINE, ExecutionMode.THREAD, ExecutionMode.INLINE,
                            None]  # fmt: skip
    assert inputs.plain == [True, True, True, True, False]
    assert ModeCountingPython.asked == ["inline", "thread", "inline"]  # b reuses a's answer; e is rendered


def test_a_task_with_its_own_env_merges_it_at_its_first_attempt_the_others_share_the_workflow_s() -> None:
    inputs = _inputs([
        {"name": "a", "type": "python", "config": INLINE},
        {"name": "b", "type": "python", "config": INLINE, "env": {"OWN": "1"}},
    ], {"SHARED": "x"})  # fmt: skip
    assert inputs.plain_env == [{"SHARED": "x"}, None]
    assert inputs.plain_inputs(1)[1] == {"SHARED": "x", "OWN": "1"}


def test_stretches_cover_every_task_in_order_and_cut_where_the_type_or_the_config_object_changes() -> None:
    first, second = PythonTask(), PythonTask()
    shared, equal = {"callable": "m:f"}, {"callable": "m:f"}  # equal, but another object: a cut
    types = [first, first, first, second, second, first]
    configs = [shared, shared, equal, equal, equal, equal]
    assert same_stretches(types, configs) == [(0, 2), (2, 3), (3, 5), (5, 6)]
    assert same_stretches([first] * 4, [shared, shared, equal, shared]) == [(0, 2), (2, 3), (3, 4)]  # one type
    assert same_stretches([first] * 3, [shared] * 3) == [(0, 3)]
    assert same_stretches([], []) == []


def test_a_stretch_of_rendered_tasks_between_plain_ones_is_never_asked_for_its_mode() -> None:
    rendered = {"callable": "${{ params.name }}"}
    inputs = _inputs([
        {"name": "a", "type": "python", "config": INLINE},
        {"name": "b", "type": "python", "config": rendered},
        {"name": "c", "type": "python", "config": rendered},
        {"name": "d", "type": "python", "config": INLINE},
    ])  # fmt: skip
    assert inputs.stretches == [(0, 1), (1, 2), (2, 3), (3, 4)]  # a rendered config is its task's own
    assert inputs.modes == [ExecutionMode.INLINE, None, None, ExecutionMode.INLINE]
    assert ModeCountingPython.asked == ["inline", "inline"]


def test_mapped_asks_once_for_a_uniform_column_and_always_gives_a_list_of_the_run_s_own() -> None:
    asked: list[str] = []

    def lookup(key: str) -> str:
        asked.append(key)
        return key.upper()

    column = ["a"] * 3
    first, second = mapped(lookup, column), mapped(lookup, column)
    assert first == second == ["A", "A", "A"] and first is not second  # a run may change its copy
    assert asked == ["a", "a"]
    asked.clear()
    assert mapped(lookup, ["a", "b", "a"]) == ["A", "B", "A"]
    assert asked == ["a", "b", "a"]
    assert mapped(lookup, []) == []
