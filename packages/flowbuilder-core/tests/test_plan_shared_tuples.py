"""The plan's successor and predecessor tuples: equal ones are one tuple (a fan-out's tasks
all have ``(root,)`` before them), and every task still has its own edges."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from flowbuilder.compiler import compile_workflow
from flowbuilder.interfaces import TaskContext, TaskType
from flowbuilder.model import Workflow


class NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoopType(TaskType):
    name = "noop"
    config_model = NoConfig

    def run(self, config: Any, context: TaskContext) -> None:
        return None


TASK_TYPES: Any = {"noop": NoopType()}


def plan_of(depends: dict[str, list[str]]) -> Any:
    tasks = [{"name": name, "type": "noop", "depends_on": deps} for name, deps in depends.items()]
    return compile_workflow(Workflow.model_validate({"name": "w", "tasks": tasks}), TASK_TYPES)


def test_the_tasks_of_a_fan_out_share_one_predecessors_tuple_and_one_successors_tuple() -> None:
    plan = plan_of({"root": [], **{f"t{i}": ["root"] for i in range(5)}, "sink": [f"t{i}" for i in range(5)]})
    middle = range(1, 6)
    assert all(plan.predecessors[i] == (0,) and plan.predecessors[i] is plan.predecessors[1] for i in middle)
    assert all(plan.successors[i] == (6,) and plan.successors[i] is plan.successors[1] for i in middle)
    assert plan.successors[0] == (1, 2, 3, 4, 5) and plan.predecessors[6] == (1, 2, 3, 4, 5)
    assert plan.predecessors[0] == () and plan.successors[6] == ()


def test_tasks_with_other_edges_keep_their_own() -> None:
    plan = plan_of({"a": [], "b": ["a"], "c": ["b"], "d": ["a", "c"], "e": ["a"]})
    assert plan.predecessors == ((), (0,), (1,), (0, 2), (0,))
    assert plan.successors == ((1, 3, 4), (2,), (3,), (), ())
    assert plan.predecessors[1] is plan.predecessors[4]
