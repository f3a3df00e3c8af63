"""``RunResult.tasks`` of a local run: what a walk over every task leaves alive.

The CLI's summary walks all of a run's task states once; at 100,000 tasks the states kept
by that walk set the process's peak memory (bench/memory.py). A walk builds each state
afresh and keeps none; a lookup by name keeps its state, so a second lookup (or a change
made to it) sees the same object.
"""

from __future__ import annotations

import asyncio
import gc

from flowbuilder.compiler import compile_workflow
from flowbuilder.events import TaskState, TaskStatus
from flowbuilder.interfaces import RunRequest, RunResult
from flowbuilder.model import Workflow
from flowrunner import LocalRunner
from flowrunner.tasktypes import PythonTask


def _fanout_result(width: int) -> RunResult:
    types = {"python": PythonTask()}
    tasks = [{"name": "root", "type": "python", "config": {"callable": "builtins:len", "args": ["abc"]}}]
    tasks += [{"name": f"t{i}", "type": "python", "depends_on": ["root"], "config": {"callable": "builtins:int"}}
              for i in range(width)]  # fmt: skip
    plan = compile_workflow(Workflow.model_validate({"name": "fan", "tasks": tasks}), types)
    return asyncio.run(LocalRunner(types).run_async(RunRequest(plan=plan)))


def _alive_states() -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if type(thing) is TaskState)


def test_a_walk_over_every_task_keeps_none_of_the_states_it_built() -> None:
    result = _fanout_result(200)
    before = _alive_states()
    statuses = [state.status for _name, state in result.tasks.items()]  # the CLI summary's walk
    outputs = [state.output for state in result.tasks.values()]
    counts = {status: statuses.count(status) for status in set(statuses)}
    assert counts == {TaskStatus.SUCCEEDED: 201}
    assert outputs == [3] + [0] * 200
    assert _alive_states() == before


def test_a_looked_up_state_is_kept_and_the_walk_shows_that_same_state() -> None:
    result = _fanout_result(3)
    root = result.tasks["root"]
    assert result.tasks["root"] is root and result.output("root") == 3
    root.output = "changed by the caller"
    assert dict(result.tasks.items())["root"] is root
    assert next(iter(result.tasks.values())) is root
    assert ("root", root) in result.tasks.items()
    assert [name for name, _ in result.tasks.items()] == ["root", "t0", "t1", "t2"]
    assert result.tasks["t1"].started_at is not None and result.tasks["t1"].status is TaskStatus.SUCCEEDED
