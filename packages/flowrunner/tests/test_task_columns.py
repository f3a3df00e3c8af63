"""The task fields a run reads, kept per workflow (flowrunner.scheduling.task_columns)."""

from __future__ import annotations

import gc

from flowbuilder_contracts.runner import compile_yaml
from flowrunner.scheduling import task_columns as module
from flowrunner.scheduling.task_columns import task_columns

TEXT = """
name: columns
tasks:
  - {name: a, type: contract_value, config: {value: 1}, priority: 3, timeout: 5}
  - {name: b, type: contract_value, depends_on: [a], run_if: all_done, config: {value: 2}, when: "${{ true }}"}
"""


def test_columns_hold_each_tasks_fields_in_task_order() -> None:
    plan = compile_yaml(TEXT)
    columns = task_columns(plan.workflow)
    tasks = plan.workflow.tasks
    for field in ("type", "run_if", "when", "timeout", "deadline", "lock", "priority", "foreach", "env", "outputs",
                  "pool"):  # fmt: skip
        assert list(getattr(columns, field)) == [getattr(task, field) for task in tasks], field
    assert list(columns.priority) == [3, None] and list(columns.run_if) == ["all_succeeded", "all_done"]


def test_a_workflow_is_read_once_and_forgotten_with_it() -> None:
    plan = compile_yaml(TEXT)
    workflow = plan.workflow
    first = task_columns(workflow)
    assert task_columns(workflow) is first  # the second run reads the kept lists
    key = id(workflow)
    assert key in module._KEPT
    del plan, workflow, first
    gc.collect()
    assert key not in module._KEPT


def test_a_task_list_that_changed_length_is_read_again() -> None:
    """The models are frozen, but their ``tasks`` list is a list: one that grew is read again."""
    plan = compile_yaml(TEXT)
    workflow = plan.workflow
    first = task_columns(workflow)
    workflow.tasks.append(workflow.tasks[0])
    again = task_columns(workflow)
    assert again is not first and list(again.type) == ["contract_value"] * 3


def test_fields_with_one_value_for_every_task_share_one_list() -> None:
    plan = compile_yaml(TEXT)
    columns = task_columns(plan.workflow)
    assert columns.deadline is columns.lock is columns.foreach is columns.pool  # all None
    assert list(columns.deadline) == [None, None]
    assert columns.timeout is not columns.deadline and columns.priority is not columns.deadline  # not uniform
