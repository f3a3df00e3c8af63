"""Features relative to each task's own history, the history generator, hostile values."""

from __future__ import annotations

import math

import polars as pl

from flowbuilder_ai.features import MODEL_FEATURES, executions, explain, features, task_baselines
from flowbuilder_ai.history import ATTEMPT_SCHEMA, error_class
from flowbuilder_ai.synthetic import HistoryShape, generate, inject_anomalies


def _row(run: str, task: str, duration: float, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {"run_id": run, "workflow": "w", "task": task, "attempt": 1, "status": "succeeded",
                              "error_class": "", "started_at": 0.0, "finished_at": float(len(run)),
                              "duration": duration, "queue_wait": 0.1, "output_size": 100, "exit_code": 0,
                              "upstream": []}  # fmt: skip
    row.update(extra)
    return row


def _history(rows: list[dict[str, object]]) -> pl.DataFrame:
    return executions(pl.DataFrame(rows, schema=ATTEMPT_SCHEMA))


def test_a_task_that_is_always_slow_is_not_anomalous() -> None:
    rows = [_row(f"r{i}", "slow", 100.0 + i % 3) for i in range(30)] + [_row(f"r{i}", "quick", 1.0) for i in range(30)]
    history = _history(rows)
    new = _history([_row("new", "slow", 101.0), _row("new", "quick", 14.0)])
    frame = features(new, task_baselines(history)).sort("task")
    ratios = dict(zip(frame["task"], frame["log_duration_ratio"], strict=True))
    assert abs(ratios["slow"]) < 0.05
    assert math.isclose(ratios["quick"], math.log(14.0 / 1.0), rel_tol=1e-3)
    assert "took 14.0 s; its median is 1.0 s" in explain(frame.filter(pl.col("task") == "quick").row(0, named=True))


def test_retries_errors_output_and_upstream() -> None:
    rows = [_row(f"r{i}", "a", 1.0) for i in range(30)]
    rows += [_row(f"r{i}", "b", 1.0, upstream=["a"]) for i in range(30)]
    rows += [_row(f"x{i}", "a", 1.0, attempt=1, status="retrying", error_class="TimeoutError") for i in range(3)]
    history = _history(rows)
    new = pl.DataFrame(
        [
            _row("n", "a", 9.0, attempt=1, status="retrying", error_class="TimeoutError"),
            _row("n", "a", 9.0, attempt=2, status="retrying", error_class="TimeoutError"),
            _row("n", "a", 9.0, attempt=3, status="failed", error_class="MemoryError", output_size=0),
            _row("n", "b", 1.0, upstream=["a"], output_size=100_000),
        ],
        schema=ATTEMPT_SCHEMA,
    )
    frame = features(executions(new), task_baselines(history)).sort("task")
    a, b = frame.row(0, named=True), frame.row(1, named=True)
    assert (a["retries"], a["excess_retries"], a["failed"], a["new_error"]) == (2.0, 1.0, 1.0, 1.0)
    assert b["new_error"] == 0.0 and b["failed"] == 0.0
    assert math.isclose(b["upstream_log_ratio"], math.log(9.001 / 1.001), rel_tol=1e-3)
    assert b["output_surprise"] > math.log(500)
    assert "MemoryError, an error it never had before" in explain(a)
    known = features(executions(pl.DataFrame([_row("m", "a", 1.0, status="failed", error_class="TimeoutError")],
                                             schema=ATTEMPT_SCHEMA)), task_baselines(history))  # fmt: skip
    assert known["new_error"].to_list() == [0.0]  # seen 3 times in retried attempts: known


def test_hostile_values_give_finite_features() -> None:
    history = _history([_row(f"r{i}", "a", 1.0) for i in range(10)])
    new = _history([_row("n1", "a", float("nan")), _row("n2", "a", float("inf"), queue_wait=float("nan")),
                    _row("n3", "a", None, output_size=None), _row("n4", "unseen", 5.0)])  # fmt: skip
    frame = features(new, task_baselines(history))
    for name in MODEL_FEATURES:
        assert frame[name].is_finite().all(), name
    assert frame.filter(pl.col("task") == "unseen")["duration_surprise"].to_list() == [0.0]


def test_empty_history() -> None:
    empty = executions(pl.DataFrame(schema=ATTEMPT_SCHEMA))
    base = task_baselines(empty)
    assert base.height == 0
    assert features(empty, base).height == 0


def test_error_class_is_the_stable_head_of_a_message() -> None:
    assert error_class("TimeoutError: after 30 s") == "TimeoutError"
    assert error_class("exit code 2 (killed)") == "exit"
    assert error_class("") == ""
    assert error_class("\udcff\x00: bad") == "error"


def test_generator_is_seeded_and_labels_its_anomalies() -> None:
    shape = HistoryShape(workflows=1, runs_per_workflow=100, anomaly_rate=0.05)
    first, second = generate(3, shape), generate(3, shape)
    assert first.equals(second)
    assert not first.equals(generate(4, shape))
    kinds = set(first.filter(pl.col("label") == 1)["anomaly"].unique())
    assert kinds == {"slowdown", "retry_storm", "output_jump", "new_failure"}
    injected = inject_anomalies(executions(generate(5, HistoryShape(workflows=1, runs_per_workflow=100))), 0.1, 1)
    assert 0 < injected["label"].sum() < injected.height
