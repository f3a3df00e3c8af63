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
    rows += [_row("once", "a", 1.0, status="failed", error_class="OSError")]
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
    rare = features(executions(pl.DataFrame([_row("m", "a", 1.0, status="failed", error_class="OSError")],
                                            schema=ATTEMPT_SCHEMA)), task_baselines(history))  # fmt: skip
    assert rare["new_error"].to_list() == [1.0]  # seen once: still a new failure mode


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


def _live_rows(scored: pl.DataFrame, baselines: pl.DataFrame) -> list[dict[str, object]]:
    """features()'s inputs through the live path: row_features, run by run, in finish order."""
    from flowbuilder_ai.features import baseline_table, row_features

    table = baseline_table(baselines)
    upstream: dict[str, dict[str, float]] = {}
    out = []
    for row in scored.iter_rows(named=True):
        ratios = upstream.setdefault(row["run_id"], {})
        live = row_features(row, table.get((row["workflow"], row["task"])), ratios)
        ratios[row["task"]] = live["log_duration_ratio"]
        out.append(live)
    return out


_COMPARED = (*MODEL_FEATURES, "log_duration_ratio", "duration_robust_z", "log_output_ratio", "retries", "failed",
             "hour_sin", "hour_cos", "upstream_log_ratio", "median_duration", "median_output_size")  # fmt: skip


def test_the_live_features_are_the_polars_features_value_for_value() -> None:
    """The live sink's plain-Python features (row_features) equal features() on a generated
    history with injected anomalies, plus damaged values: the model must see what it was trained on."""
    from flowbuilder_ai.scoring import AnomalyModel

    history = generate(7, HistoryShape(workflows=2, tasks_per_workflow=6, runs_per_workflow=80, anomaly_rate=0.05))
    number = pl.col("run_id").str.extract(r"-r(\d+)$").cast(pl.Int64)
    baselines = task_baselines(executions(history.filter(number < 50)))
    later = executions(history.filter(number >= 50).drop("label", "anomaly", strict=False))
    damaged = [
        _row("d1", "t0", math.nan, workflow=later["workflow"][0], queue_wait=math.nan, output_size=None),
        _row("d2", "t1", -3.0, workflow=later["workflow"][0], queue_wait=-1.0, finished_at=None),
        _row("d3", "t2", math.inf, workflow=later["workflow"][0], status="failed", error_class="Brand_New"),
        _row("d4", "never-seen", 5.0, workflow=later["workflow"][0], status="failed", error_class="OSError"),
        _row("d5", "t3", None, workflow=later["workflow"][0], output_size=10**9, queue_wait=math.inf),
        _row("d6", "t4", 0.0, workflow=later["workflow"][0], upstream=["t3", "gone"], attempt=4),
    ]
    extra = executions(pl.DataFrame(damaged, schema=ATTEMPT_SCHEMA))
    scored = pl.concat([later.select(extra.columns), extra], how="vertical_relaxed")
    frame = features(scored, baselines)
    live = _live_rows(scored, baselines)
    assert frame.height == len(live) > 300
    for name in _COMPARED:
        for expected, got in zip(frame[name].to_list(), [row[name] for row in live], strict=True):
            if expected is None or got is None:
                assert expected is None and got is None, name
            else:
                assert math.isclose(expected, got, rel_tol=1e-12, abs_tol=1e-12), (name, expected, got)
    model = AnomalyModel.load()
    assert model.score(frame).tolist() == model.score_rows(live).tolist()  # the same float32 scores
    assert sum(frame["new_error"]) >= 1 and sum(frame["upstream_log_ratio"]) > 0 and sum(frame["retries"]) > 0
