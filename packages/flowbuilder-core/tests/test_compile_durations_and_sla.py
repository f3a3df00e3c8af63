"""A compile pass feeding measured durations re-costs the plan; ``sla:`` is a located duration."""

from __future__ import annotations

from typing import Any, Mapping

import pytest

from flowbuilder.compiler import ESTIMATED_DURATIONS_KEY, compile_workflow
from flowbuilder.errors import WorkflowError
from flowbuilder.loader import load_workflow
from flowbuilder.plan import ExecutionPlan
from flowbuilder.plugins import PluginHost

# a -> slow_branch -> end, a -> fast_branch -> end: by task count both branches tie.
WORKFLOW = """\
name: branches
sla: 30m
tasks:
  - {name: a, type: shell, config: {command: x}}
  - {name: short, type: shell, depends_on: [a], config: {command: x}}
  - {name: long, type: shell, depends_on: [a], config: {command: x}}
  - {name: end, type: shell, depends_on: [short, long], config: {command: x}}
"""


def _compile(host: PluginHost, measured: Mapping[str, Any] | None) -> ExecutionPlan:
    workflow = load_workflow(WORKFLOW).workflow
    passes = [] if measured is None else [lambda plan: {ESTIMATED_DURATIONS_KEY: measured}]
    return compile_workflow(workflow, host.task_types(), passes=passes)


def test_a_pass_with_measured_durations_reorders_the_priorities(host: PluginHost) -> None:
    plan = _compile(host, {"a": 1.0, "short": 2.0, "long": 50.0, "end": 1.0})
    index = plan.index
    assert plan.estimated
    assert plan.remaining_path[index["long"]] == 51.0
    assert plan.remaining_path[index["short"]] == 3.0
    assert [plan.names[i] for i in plan.critical_path] == ["a", "long", "end"]
    assert plan.critical_path_cost == 52.0
    assert plan.metadata[ESTIMATED_DURATIONS_KEY]["long"] == 50.0


def test_without_durations_the_plan_counts_tasks(host: PluginHost) -> None:
    plan = _compile(host, None)
    assert not plan.estimated
    assert plan.remaining_path[plan.index["long"]] == plan.remaining_path[plan.index["short"]] == 2.0


def test_invalid_measured_durations_are_ignored(host: PluginHost) -> None:
    plan = _compile(host, {"short": "fast", "long": float("inf"), "end": -3})
    assert not plan.estimated
    assert plan.critical_path_cost == 3.0


def test_sla_is_a_duration() -> None:
    assert load_workflow(WORKFLOW).workflow.sla == 1800.0
    assert load_workflow(WORKFLOW.replace("sla: 30m\n", "")).workflow.sla is None


@pytest.mark.parametrize("value", ["0", "soon", "-5m"])
def test_a_bad_sla_is_a_located_error(value: str) -> None:
    with pytest.raises(WorkflowError) as raised:
        load_workflow(WORKFLOW.replace("30m", value))
    assert [d.line for d in raised.value.diagnostics] == [2]
    assert "sla" in str(raised.value)
