"""The execution plan: a validated workflow in the form a runner walks without checking.

Tasks are dense integer ids (their position in ``workflow.tasks``), so a runner keeps its
per-task state in flat lists indexed by id instead of dicts keyed by name. Everything here
is immutable; a runner copies ``indegree`` into a list of its own and counts it down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from flowbuilder.errors import Diagnostic
    from flowbuilder.model import Task, Workflow
    from flowbuilder.state_machines import StateMachine
    from flowbuilder.subworkflows import ChildPin


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    """A compiled workflow.

    Attributes:
        workflow: the validated model the plan was compiled from.
        names: task name of each id.
        index: id of each task name.
        successors: ids that depend on each id.
        predecessors: ids each id depends on.
        indegree: number of predecessors of each id (a runner counts its own copy down).
        topological_order: every id after all of its predecessors.
        levels: ids grouped by longest distance from a root; tasks of one level are independent.
        remaining_path: for each id, the longest cost from its start to the end of the
            workflow (itself included) — the priority a critical-path scheduler uses.
        critical_path: the ids of one longest path through the graph.
        critical_path_cost: its cost (seconds when durations were estimated, else task count).
        max_width: the size of the widest level.
        estimated: whether costs came from estimated durations (else each task costs 1).
        configs: each task's ``config`` after validation by its task type's model.
        expression_tasks: ids whose fields hold ``${{ }}`` expressions to render at run time.
        secret_names: the secrets its expressions read (``secrets.NAME``), resolved when a
            run starts (:func:`flowbuilder.secrets.resolve_run_secrets`).
        warnings: located warnings of task types' ``lint`` (valid, but probably wrong or
            unsafe); ``flowbuilder validate`` and ``run`` print them.
        metadata: what compile passes of plugins added (read-only).
        cached_tasks: ids of the tasks with result caching (their own ``cache:``, else
            ``defaults.cache``), so that a runner learns in one look that a run has none.
        states: the compiled ``states:`` of a state-machine workflow
            (:mod:`flowbuilder.state_machines`), None for a DAG workflow.
    """

    workflow: Workflow
    names: tuple[str, ...]
    index: Mapping[str, int]
    successors: tuple[tuple[int, ...], ...]
    predecessors: tuple[tuple[int, ...], ...]
    indegree: tuple[int, ...]
    topological_order: tuple[int, ...]
    levels: tuple[tuple[int, ...], ...]
    remaining_path: tuple[float, ...]
    critical_path: tuple[int, ...]
    critical_path_cost: float
    max_width: int
    estimated: bool
    configs: tuple[Any, ...]
    expression_tasks: frozenset[int]
    secret_names: frozenset[str] = frozenset()
    warnings: tuple[Diagnostic, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    cached_tasks: frozenset[int] = frozenset()
    states: StateMachine | None = None

    def __len__(self) -> int:
        return len(self.names)

    @property
    def tasks(self) -> list[Task]:
        return self.workflow.tasks

    def task(self, task_id: int) -> Task:
        return self.workflow.tasks[task_id]

    def roots(self) -> tuple[int, ...]:
        """Ids with no dependencies, ready when the run starts."""
        return tuple(task_id for task_id, count in enumerate(self.indegree) if count == 0)

    def upstream(self, task_id: int) -> set[int]:
        """Every id this one depends on, directly or not."""
        seen: set[int] = set()
        stack = list(self.predecessors[task_id])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.predecessors[current])
        return seen

    def downstream(self, task_id: int) -> set[int]:
        """Every id that depends on this one, directly or not."""
        seen: set[int] = set()
        stack = list(self.successors[task_id])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.successors[current])
        return seen

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description for ``flowbuilder plan --json`` and the API."""
        names = self.names
        return {
            "workflow": self.workflow.name,
            "version": self.workflow.version,
            "tasks": len(names),
            "edges": sum(len(s) for s in self.successors),
            "levels": [[names[i] for i in level] for level in self.levels],
            "critical_path": [names[i] for i in self.critical_path],
            "critical_path_cost": self.critical_path_cost,
            "critical_path_unit": "seconds" if self.estimated else "tasks",
            "max_width": self.max_width,
            **({"states": self.states.summary()} if self.states is not None else {}),
        }


WORKFLOW_TASK_TYPE = "workflow"
"""The DSL ``type:`` of a sub-workflow task (registered by flowrunner, run by its runner).

This, :func:`has_subworkflows` and :func:`pins_of` are here rather than in
:mod:`flowbuilder.subworkflows` (which re-exports them), so that asking whether a plan has
sub-workflows does not import that module and build its pydantic model."""


def has_subworkflows(plan: ExecutionPlan) -> bool:
    """Whether any task of ``plan`` is a ``workflow`` task."""
    return any(task.type == WORKFLOW_TASK_TYPE for task in plan.workflow.tasks)


PINS_METADATA_KEY = "subworkflows"
"""Where :func:`flowbuilder.subworkflows.pin_children` leaves the loaded children on ``ExecutionPlan.metadata``."""


def pins_of(plan: ExecutionPlan) -> Mapping[str, ChildPin]:
    """The children :func:`flowbuilder.subworkflows.pin_children` loaded for ``plan`` (empty when it has none)."""
    pins: Mapping[str, ChildPin] = plan.metadata.get(PINS_METADATA_KEY, {})
    return pins


__all__ = [
    "ExecutionPlan",
]
