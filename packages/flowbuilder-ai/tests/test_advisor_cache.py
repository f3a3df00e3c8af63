"""The advisor's cache rule on constructed task results: proposed only when the same inputs
always gave the same output, often and slowly enough, for a task that signals no side effects."""

from __future__ import annotations

import textwrap
from typing import Any

import polars as pl
import pytest

from flowbuilder.compiler import compile_workflow
from flowbuilder.loader import load_workflow
from flowbuilder.plan import ExecutionPlan
from flowbuilder_ai.advisor import CACHE_MIN_HITS, advise
from flowbuilder_ai.history import empty_attempts
from flowbuilder_ai.results import RESULT_SCHEMA

WORKFLOW = """
name: report
tasks:
  - {name: extract, type: shell, config: {command: x}}
  - {name: build, type: shell, depends_on: [extract], config: {command: y}}
"""


def plan_of(text: str) -> ExecutionPlan:
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner")))
    return compile_workflow(load_workflow(textwrap.dedent(text)).workflow, host.task_types())


def results(task: str, rows: list[tuple[str, str]], duration: float = 2.0, **extra: Any) -> pl.DataFrame:
    """One execution per ``(input digest, output digest)`` pair, each in its own run."""
    return pl.DataFrame(
        [{"run_id": f"r{i}", "workflow": "report", "task": task, "attempt": 1, "finished_at": float(i),
          "duration": duration, "input_digest": given, "output_digest": got, "output_empty": False,
          "served": False, **extra} for i, (given, got) in enumerate(rows)],
        schema=RESULT_SCHEMA,
    )  # fmt: skip


def attempts(plan: ExecutionPlan, runs: int = 7) -> pl.DataFrame:
    """Enough runs for the advisor to speak (their rows matter to the other rules only)."""
    rows = [{"run_id": f"r{i}", "workflow": "report", "task": plan.names[0], "attempt": 1, "status": "succeeded",
             "error_class": "", "started_at": 0.0, "finished_at": 1.0, "duration": 1.0, "queue_wait": 0.0,
             "output_size": 1, "exit_code": 0, "upstream": []} for i in range(runs)]  # fmt: skip
    return pl.DataFrame(rows, schema=empty_attempts().schema)


def cache_findings(plan: ExecutionPlan, frame: pl.DataFrame) -> list[Any]:
    return [f for f in advise(plan, attempts(plan), frame) if f.kind == "cache_candidate"]


def test_same_inputs_giving_the_same_output_propose_cache_true_with_the_evidence() -> None:
    found = cache_findings(plan_of(WORKFLOW), results("extract", [("in", "out")] * 7))
    assert len(found) == 1
    finding = found[0]
    assert finding.tasks == ("extract",)
    assert finding.yaml == "- name: extract\n  cache: true\n"
    assert "7 of 7 runs with the same inputs gave the same output" in finding.message
    assert finding.evidence == {"runs": 7, "same_input_runs": 7, "input_sets": 1, "would_hit": 6,
                                "outputs_per_input_set": 1, "median_s": 2.0, "saved_s": 12.0}  # fmt: skip


def test_several_input_sets_each_with_one_output_are_a_candidate() -> None:
    rows = [("a", "A")] * 3 + [("b", "B")] * 3 + [("c", "C")]
    (finding,) = cache_findings(plan_of(WORKFLOW), results("extract", rows))
    assert finding.evidence["input_sets"] == 2
    assert finding.evidence["same_input_runs"] == 6
    assert finding.evidence["would_hit"] == 4


def test_one_different_output_for_the_same_inputs_rules_the_task_out() -> None:
    rows = [("in", "out")] * 9 + [("in", "other")]
    assert cache_findings(plan_of(WORKFLOW), results("extract", rows)) == []


def test_inputs_that_never_repeat_are_no_evidence() -> None:
    rows = [(f"in{i}", "out") for i in range(10)]
    assert cache_findings(plan_of(WORKFLOW), results("extract", rows)) == []


def test_too_few_repeats_propose_nothing() -> None:
    rows = [("in", "out")] * CACHE_MIN_HITS + [("x", "y")]  # CACHE_MIN_HITS - 1 would-be hits
    assert cache_findings(plan_of(WORKFLOW), results("extract", rows)) == []
    assert cache_findings(plan_of(WORKFLOW), results("extract", [*rows, ("in", "out")]))


def test_a_task_too_quick_to_be_worth_a_lookup_is_left_alone() -> None:
    assert cache_findings(plan_of(WORKFLOW), results("extract", [("in", "out")] * 7, duration=0.01)) == []


def test_a_task_that_returns_nothing_runs_for_its_side_effect() -> None:
    frame = results("extract", [("in", "out")] * 7, output_empty=True)
    assert cache_findings(plan_of(WORKFLOW), frame) == []


def test_executions_served_from_the_cache_are_no_evidence() -> None:
    frame = results("extract", [("in", "out")] * 7, served=True)
    assert cache_findings(plan_of(WORKFLOW), frame) == []


def test_results_of_unknown_definitions_are_ignored() -> None:
    frame = results("extract", [(None, "out")] * 7)  # type: ignore[list-item]
    assert cache_findings(plan_of(WORKFLOW), frame) == []


def test_without_results_no_cache_candidate_is_proposed() -> None:
    assert [f for f in advise(plan_of(WORKFLOW), attempts(plan_of(WORKFLOW))) if f.kind == "cache_candidate"] == []


@pytest.mark.parametrize(
    ("task", "why"),
    [
        ("{name: extract, type: shell, cache: false, config: {command: x}}", "cache: false says it has side effects"),
        ("{name: extract, type: shell, cache: true, config: {command: x}}", "already cached"),
        ("{name: extract, type: shell, lock: deploy-prod, config: {command: x}}", "a lock guards a shared resource"),
        ("{name: extract, type: http, config: {url: 'http://127.0.0.1:1/x', method: POST}}", "POST changes things"),
        ("{name: extract, type: approval, config: {signal: ok}}", "a person's answer"),
        ("{name: extract, type: shell, config: {command: 'echo ${{ run.id }}'}}", "the key changes every run"),
        ("{name: extract, type: shell, env: {RUN: '${{ run.logical_time }}'}, config: {command: x}}", "same"),
    ],
)
def test_tasks_signalling_side_effects_are_never_proposed(task: str, why: str) -> None:
    text = WORKFLOW.replace("{name: extract, type: shell, config: {command: x}}", task)
    assert cache_findings(plan_of(text), results("extract", [("in", "out")] * 7)) == [], why


def test_a_cleanup_task_run_if_always_is_never_proposed() -> None:
    text = WORKFLOW.replace("depends_on: [extract], config", "depends_on: [extract], run_if: always, config")
    assert cache_findings(plan_of(text), results("build", [("in", "out")] * 7)) == []
    assert cache_findings(plan_of(WORKFLOW), results("build", [("in", "out")] * 7))


def test_defaults_cache_makes_every_task_cached_already() -> None:
    text = WORKFLOW.replace("name: report\n", "name: report\ndefaults: {cache: true}\n")
    assert cache_findings(plan_of(text), results("extract", [("in", "out")] * 7)) == []


def test_a_task_named_run_read_by_a_dependent_is_not_taken_for_run_dot() -> None:
    text = """
    name: report
    tasks:
      - {name: run, type: shell, config: {command: x}}
      - {name: build, type: shell, depends_on: [run], config: {command: "echo ${{ tasks.run.output }}"}}
    """
    assert cache_findings(plan_of(text), results("build", [("in", "out")] * 7))
