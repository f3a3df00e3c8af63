"""Which tasks a retry of a finished run runs again (``flowbuilder retry``, ``Engine.retry``).

A retry continues the same run (see docs/architecture.md, "Retrying a finished run"): the
tasks chosen here run again under the run's id, with their attempt numbers continuing, and
every other task keeps the outcome its history records. This module only chooses; the run
service checks the run and the runner's state machine restores it
(:meth:`flowrunner.scheduling.state.RunStateMachine.restore` with ``rerun``).

* no selection — every task that did not succeed (failed, skipped, cancelled, never reached);
* ``from_tasks`` — each named task and everything downstream of it, even if it succeeded
  (Airflow's "clear downstream");
* ``only`` — each named task, and the tasks downstream of it that did not succeed.

Tasks outside the selection keep their outcome, so a rerun task must have every upstream
task either succeeded or rerun too; a named task that does not is refused, an unnamed
downstream one keeps its outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from flowbuilder.errors import FlowBuilderError, quoted
from flowbuilder.events import TaskStatus

if TYPE_CHECKING:
    from flowbuilder.events import TaskState
    from flowbuilder.plan import ExecutionPlan


def retry_scope(plan: ExecutionPlan, tasks: Mapping[str, TaskState], *, from_tasks: Sequence[str] = (),
                only: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """The names of the tasks to run again, in the plan's order; FlowBuilderError if none or refused.

    ``tasks`` is the stored run's folded task states (a task it never reached is absent).
    """
    index = plan.index
    for name in (*from_tasks, *only):
        if name not in index:
            known = ", ".join(sorted(index)[:8]) + (", …" if len(index) > 8 else "")
            raise FlowBuilderError(f"the run's workflow has no task {quoted(name)} (its tasks: {known})")

    def succeeded(task_id: int) -> bool:
        state = tasks.get(plan.names[task_id])
        return state is not None and state.status is TaskStatus.SUCCEEDED

    named = {index[name] for name in (*from_tasks, *only)}
    chosen: set[int] = set()
    if not named:
        chosen = {task_id for task_id in range(len(plan)) if not succeeded(task_id)}
    for name in from_tasks:
        task_id = index[name]
        chosen |= {task_id, *plan.downstream(task_id)}
    for name in only:
        task_id = index[name]
        chosen |= {task_id, *(below for below in plan.downstream(task_id) if not succeeded(below))}
    # Walk in dependency order: a task whose upstream neither succeeded nor reruns cannot run.
    runnable: list[int] = []
    for task_id in plan.topological_order:
        if task_id not in chosen:
            continue
        blocked = [p for p in plan.predecessors[task_id] if not succeeded(p) and p not in chosen]
        if blocked:
            chosen.discard(task_id)
            if task_id in named:
                upstream = plan.names[blocked[0]]
                raise FlowBuilderError(f"task {plan.names[task_id]!r} depends on {upstream!r}, which did not"
                                       f" succeed; retry with --from {upstream} or with no --from/--only")  # fmt: skip
            continue
        runnable.append(task_id)
    return [plan.names[task_id] for task_id in runnable]


__all__ = ["retry_scope"]
