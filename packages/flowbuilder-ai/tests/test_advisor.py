"""The advisor on generated histories: each finding appears when planted, none on a clean one."""

from __future__ import annotations

import random
import textwrap
from typing import Any, Callable

import polars as pl
import pytest

from flowbuilder.compiler import compile_workflow
from flowbuilder.loader import load_workflow
from flowbuilder.plan import ExecutionPlan
from flowbuilder_ai.advisor import advise
from flowbuilder_ai.history import ATTEMPT_SCHEMA

# extract -> (left, right) -> load -> report; width 2.
CLEAN = """
name: nightly
tasks:
  - {name: extract, type: shell, timeout: 60s, config: {command: x}}
  - {name: left, type: shell, depends_on: [extract], timeout: 60s, config: {command: x}}
  - {name: right, type: shell, depends_on: [extract], timeout: 60s, config: {command: x}}
  - {name: load, type: shell, depends_on: [left, right], timeout: 60s, config: {command: x}}
  - {name: report, type: shell, depends_on: [load], timeout: 60s, config: {command: x}}
"""
MEDIANS = {"extract": 4.0, "left": 4.0, "right": 4.0, "load": 4.0, "report": 4.0}


def plan_of(text: str) -> ExecutionPlan:
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner")))
    return compile_workflow(load_workflow(textwrap.dedent(text)).workflow, host.task_types())


Outcome = Callable[[int, str, int], "tuple[str, str] | None"]


def history(
    plan: ExecutionPlan,
    runs: int = 40,
    medians: dict[str, float] = MEDIANS,
    outcome: Outcome | None = None,
    queue_wait: dict[str, float] | None = None,
    seed: int = 7,
) -> pl.DataFrame:
    """Log-normal durations around ``medians``; ``outcome(run, task, attempt)`` may fail an attempt
    (``(status, error_class)``); an attempt that is ``retrying`` is followed by the next one."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for run in range(runs):
        clock = 1_700_000_000.0 + run * 86_400
        for name in (plan.names[i] for i in plan.topological_order):
            attempt = 1
            while True:
                duration = medians[name] * rng.lognormvariate(0, 0.15)
                failed = outcome(run, name, attempt) if outcome else None
                status, error = failed if failed else ("succeeded", "")
                rows.append({
                    "run_id": f"r{run:03d}", "workflow": plan.workflow.name, "task": name, "attempt": attempt,
                    "status": status, "error_class": error, "started_at": clock, "finished_at": clock + duration,
                    "duration": duration, "queue_wait": (queue_wait or {}).get(name, 0.0) if attempt == 1 else 0.0,
                    "output_size": 100, "exit_code": 0 if status == "succeeded" else 1,
                    "upstream": list(plan.task(plan.index[name]).depends_on),
                })  # fmt: skip
                clock += duration
                if status != "retrying":
                    break
                attempt += 1
    return pl.DataFrame(rows, schema=ATTEMPT_SCHEMA)


def kinds(plan: ExecutionPlan, frame: pl.DataFrame) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for finding in advise(plan, frame):
        found.setdefault(finding.kind, []).append(finding)
    return found


def test_a_clean_history_proposes_nothing() -> None:
    plan = plan_of(CLEAN)
    assert advise(plan, history(plan)) == []


def test_too_little_history_proposes_nothing() -> None:
    plan = plan_of(CLEAN.replace("timeout: 60s", "timeout: 3s"))
    assert advise(plan, history(plan, runs=3)) == []


def test_a_flaky_task_gets_a_retry_policy() -> None:
    plan = plan_of(CLEAN)
    frame = history(
        plan,
        outcome=lambda run, task, attempt: ("failed", "ConnectionError") if task == "left" and run % 8 == 3 else None,
    )
    found = kinds(plan, frame)
    assert list(found) == ["flaky"]
    (flaky,) = found["flaky"]
    assert flaky.tasks == ("left",)
    assert flaky.evidence["failed"] == 5 and flaky.evidence["final_failures"] == 5
    assert "ConnectionError" in flaky.message
    assert "retry:\n    attempts: 4" in flaky.yaml


def test_a_tight_timeout_is_raised_to_twice_its_p99() -> None:
    plan = plan_of(CLEAN.replace("{name: load, type: shell, depends_on: [left, right], timeout: 60s",
                                 "{name: load, type: shell, depends_on: [left, right], timeout: 5s"))  # fmt: skip
    found = kinds(plan, history(plan))
    assert list(found) == ["timeout_tight"]
    (tight,) = found["timeout_tight"]
    assert tight.tasks == ("load",) and tight.evidence["timeout_s"] == 5.0
    assert tight.evidence["p99_s"] > 4.0
    assert tight.yaml == f"- name: load\n  timeout: {int(-(-2 * tight.evidence['p99_s'] // 1))}s\n"


def test_a_loose_timeout_is_lowered() -> None:
    plan = plan_of(CLEAN.replace("{name: report, type: shell, depends_on: [load], timeout: 60s",
                                 "{name: report, type: shell, depends_on: [load], timeout: 2h"))  # fmt: skip
    found = kinds(plan, history(plan))
    assert list(found) == ["timeout_loose"]
    assert found["timeout_loose"][0].tasks == ("report",)
    assert "2h" in found["timeout_loose"][0].message


def test_the_task_dominating_the_critical_path_is_named() -> None:
    plan = plan_of(CLEAN)
    found = kinds(plan, history(plan, medians={**MEDIANS, "right": 20.0}))
    assert list(found) == ["critical_path"]
    (path,) = found["critical_path"]
    assert path.tasks == ("extract", "right", "load", "report")
    assert path.evidence["task"] == "right"
    assert path.evidence["saving_if_halved_s"] == pytest.approx(path.evidence["task_median_s"] / 2, rel=0.01)


def test_concurrency_narrower_than_the_graph_while_tasks_waited() -> None:
    plan = plan_of(CLEAN.replace("name: nightly\n", "name: nightly\nconcurrency: 1\n"))
    found = kinds(plan, history(plan, queue_wait={"right": 4.0}))
    assert list(found) == ["parallelism"]
    assert found["parallelism"][0].yaml == "concurrency: 2\n"
    assert found["parallelism"][0].tasks == ("right",)


def test_a_narrow_pool_while_tasks_waited() -> None:
    text = CLEAN.replace("name: nightly\n", "name: nightly\npools: {db: 1}\n")
    text = text.replace("depends_on: [extract], timeout: 60s", "depends_on: [extract], pool: db, timeout: 60s")
    plan = plan_of(text)
    found = kinds(plan, history(plan, queue_wait={"left": 3.0}))
    assert list(found) == ["parallelism"]
    assert found["parallelism"][0].yaml == "pools:\n  db: 2\n"


def test_tasks_that_always_fail_together() -> None:
    plan = plan_of(CLEAN)
    frame = history(
        plan,
        outcome=lambda run, task, attempt: (
            ("failed", "OSError") if task in ("left", "right") and run % 10 == 1 else None
        ),
    )
    found = kinds(plan, frame)
    assert set(found) == {"fail_together", "flaky"}
    (together,) = found["fail_together"]
    assert together.tasks == ("left", "right") and together.evidence["together"] == 4


def test_retries_that_already_rescue_every_failure_are_left_alone() -> None:
    plan = plan_of(CLEAN)
    frame = history(
        plan,
        outcome=lambda run, task, attempt: (
            ("retrying", "ConnectionError") if task == "left" and attempt == 1 and run % 4 == 0 else None
        ),
    )
    assert advise(plan, frame) == []
