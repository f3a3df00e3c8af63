"""Per-task features of finished task executions, each relative to that task's own history.

A task that always takes ten minutes is not anomalous when it takes ten minutes: every
feature compares an execution with the recent history of the same (workflow, task). The
history is summarised once per task (:func:`task_baselines`: the median and spread of the
last :data:`BASELINE_WINDOW` successful executions, the error classes seen), then each new
execution is compared with it (:func:`features`). Both are vectorised Polars expressions,
so scoring a batch costs one join, not one Python loop per task.

An *execution* is a task's run within one run: its last attempt, carrying how many attempts
it took (:func:`executions`). Retries therefore show as a feature of the execution that
needed them, and a retry storm is one anomalous execution, not many.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import polars as pl

BASELINE_WINDOW = 200
"""Successful executions per task the baseline looks back over (a rolling window: old
behaviour ages out when a task legitimately changes)."""

MODEL_FEATURES: tuple[str, ...] = (
    "duration_surprise",
    "log_queue_wait_ratio",
    "excess_retries",
    "new_error",
    "output_surprise",
)
"""The columns the anomaly model reads, in this order (the ONNX input's columns)."""

CONTEXT_FEATURES: tuple[str, ...] = (
    "log_duration_ratio",
    "duration_robust_z",
    "log_output_ratio",
    "retries",
    "failed",
    "hour_sin",
    "hour_cos",
    "upstream_log_ratio",
)
"""Computed and reported beside the model's, but not model inputs: time of day is already
inside the baseline's spread (daily cycles widen it), and a slow upstream task makes its
downstream tasks *wait*, not misbehave — flagging them too would repeat one anomaly per
dependant. ``retries`` and ``failed`` enter the model as ``excess_retries`` (beyond the one
retry any task needs now and then) and ``new_error`` (a failure of a class the task rarely or
never had): a known, occasional failure is the task's normal behaviour, not an anomaly.
They explain an anomaly in words instead. Durations and output sizes enter as magnitudes
(``duration_surprise`` = ``|log_duration_ratio|``, ``output_surprise`` = ``|log_output_ratio|``):
much faster or much smaller is as suspicious as much slower or bigger, and an IsolationForest
isolates one tail better than two (measured: bench/ai_eval.py). ``duration_robust_z`` (the
distance in MADs) is reported but not a model input: it repeats the ratio and, as an extra
dimension, made the forest split less often on the rare failure features."""

KNOWN_ERROR_COUNT = 3
"""An error class seen at least this often in a task's history (in any attempt) is known."""

_MAD_SCALE = 1.4826  # MAD * this estimates the standard deviation of a normal distribution
_Z_LIMIT = 20.0
_KEYS = ("workflow", "task")


def executions(attempts: pl.DataFrame) -> pl.DataFrame:
    """The last attempt of each (run, task), with ``attempts``: how many it took.

    Input: rows of :func:`flowbuilder_ai.history.load_attempts`; output: the same columns
    plus ``attempts`` (an int) and ``attempt_errors`` (the error classes of all its
    attempts, retried ones too), in the order the executions finished.
    """
    counts = attempts.group_by("run_id", "task").agg(
        pl.len().cast(pl.Int64).alias("attempts"),
        pl.col("error_class").filter(pl.col("error_class") != "").alias("attempt_errors"),
    )
    order = ["finished_at", "run_id", "task", "attempt"]  # a total order: the same rows whatever the threads do
    last = attempts.sort(order, nulls_last=False, maintain_order=True).unique(
        ["run_id", "task"], keep="last", maintain_order=True
    )
    return last.join(counts, on=["run_id", "task"], how="left", maintain_order="left")


def task_baselines(history: pl.DataFrame) -> pl.DataFrame:
    """Per (workflow, task), from the last :data:`BASELINE_WINDOW` successful executions.

    Columns: workflow, task, runs, median_duration, mad_duration, median_queue_wait,
    median_output_size, error_classes (the error classes seen at least
    :data:`KNOWN_ERROR_COUNT` times in the history's attempts, a list).
    ``history`` is a frame of :func:`executions`.
    """
    ok = (
        history.filter(pl.col("status") == "succeeded", pl.col("duration").is_finite())
        .sort("finished_at", "run_id", nulls_last=False, maintain_order=True)
        .group_by(*_KEYS, maintain_order=True)
        .tail(BASELINE_WINDOW)
    )
    medians = ok.group_by(*_KEYS).agg(
        pl.len().alias("runs"),
        pl.col("duration").median().alias("median_duration"),
        pl.col("queue_wait").fill_nan(None).median().alias("median_queue_wait"),
        pl.col("output_size").median().alias("median_output_size"),
    )
    spread = (
        ok.join(medians, on=list(_KEYS))
        .group_by(*_KEYS)
        .agg((pl.col("duration") - pl.col("median_duration")).abs().median().alias("mad_duration"))
    )
    seen = (
        history.select(*_KEYS, pl.col("attempt_errors").alias("error_class"))
        if "attempt_errors" in history.columns
        else history.select(*_KEYS, pl.concat_list(pl.col("error_class")).alias("error_class"))
    )
    errors = (
        seen.explode("error_class")
        .filter(pl.col("error_class").is_not_null() & (pl.col("error_class") != ""))
        .group_by(*_KEYS, "error_class")
        .agg(pl.len().alias("count"))
        .filter(pl.col("count") >= KNOWN_ERROR_COUNT)
        .group_by(*_KEYS)
        .agg(pl.col("error_class").sort().alias("error_classes"))
    )
    return (
        medians.join(spread, on=list(_KEYS), how="left")
        .join(errors, on=list(_KEYS), how="full", coalesce=True)
        .with_columns(
            pl.col("runs").fill_null(0),
            pl.col("error_classes").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))),
        )
    )


def _finite(expr: pl.Expr, default: float = 0.0) -> pl.Expr:
    return pl.when(expr.is_finite()).then(expr).otherwise(default)


def features(execs: pl.DataFrame, baselines: pl.DataFrame) -> pl.DataFrame:
    """``execs`` (rows of :func:`executions`) with every feature column added.

    A task without a baseline (its first runs) gets neutral features (0): there is nothing
    to be anomalous against yet. NaN or missing durations, sizes and waits count as the
    task's median, so damaged history never produces an infinite or NaN feature.
    """
    base = baselines.select(
        *_KEYS, "median_duration", "mad_duration", "median_queue_wait", "median_output_size", "error_classes"
    )
    frame = execs.join(base, on=list(_KEYS), how="left", maintain_order="left")
    median = pl.col("median_duration")
    duration = _finite(pl.col("duration").cast(pl.Float64), -1.0)
    duration = pl.when(duration >= 0).then(duration).otherwise(median)
    eps = 1e-3
    ratio = ((duration + eps) / (median + eps)).log()
    spread = _MAD_SCALE * pl.col("mad_duration") + 0.05 * median + eps
    wait = _finite(pl.col("queue_wait").cast(pl.Float64), 0.0).clip(0.0, None)
    size = pl.col("output_size").cast(pl.Float64).fill_null(0.0).clip(0.0, None)
    ok = pl.col("status") == "succeeded"
    error = pl.col("error_class").fill_null("")
    hour = (pl.col("finished_at").fill_null(0.0) % 86400.0) / 3600.0
    frame = frame.with_columns(
        _finite(ratio).fill_null(0.0).alias("log_duration_ratio"),
        _finite(((duration - median) / spread).clip(-_Z_LIMIT, _Z_LIMIT)).fill_null(0.0).alias("duration_robust_z"),
        _finite(wait.log1p() - pl.col("median_queue_wait").fill_null(0.0).log1p())
        .fill_null(0.0)
        .alias("log_queue_wait_ratio"),
        (pl.col("attempts").fill_null(1) - 1).clip(0, None).cast(pl.Float64).alias("retries"),
        (pl.col("attempts").fill_null(1) - 2).clip(0, None).cast(pl.Float64).alias("excess_retries"),
        (~ok).cast(pl.Float64).alias("failed"),
        (
            (error != "")
            & ~pl.col("error_classes").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))).list.contains(error)
            & pl.col("median_duration").is_not_null()
        )
        .cast(pl.Float64)
        .alias("new_error"),
        pl.when(ok)
        .then(_finite(size.log1p() - pl.col("median_output_size").cast(pl.Float64).log1p()))
        .otherwise(0.0)
        .fill_null(0.0)
        .alias("log_output_ratio"),
        (hour * (2 * math.pi / 24)).sin().alias("hour_sin"),
        (hour * (2 * math.pi / 24)).cos().alias("hour_cos"),
    )
    upstream = frame.select(
        "run_id", pl.col("task").alias("up"), pl.col("log_duration_ratio").alias("up_ratio")
    ).unique(["run_id", "up"], keep="last")
    slowest = (
        frame.select("run_id", "task", pl.col("upstream").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))))
        .explode("upstream")
        .join(upstream, left_on=["run_id", "upstream"], right_on=["run_id", "up"], how="inner")
        .group_by("run_id", "task")
        .agg(pl.col("up_ratio").max().alias("upstream_log_ratio"))
    )
    frame = frame.join(slowest, on=["run_id", "task"], how="left", maintain_order="left")
    return frame.with_columns(
        pl.col("upstream_log_ratio").fill_null(0.0).clip(0.0, None),
        pl.col("log_duration_ratio").abs().alias("duration_surprise"),
        pl.col("log_output_ratio").abs().alias("output_surprise"),
    )


def feature_matrix(frame: pl.DataFrame) -> pl.DataFrame:
    """The model's inputs (:data:`MODEL_FEATURES`) as float32 columns, in order."""
    return frame.select(pl.col(name).cast(pl.Float32) for name in MODEL_FEATURES)


def explain(row: dict[str, object]) -> str:
    """The features that drove a score, in words ("took 14.2 s; its median is 1.1 s")."""
    parts: list[str] = []

    def num(key: str) -> float:
        value = row.get(key)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0

    if abs(num("log_duration_ratio")) >= math.log(2.0) and row.get("median_duration") is not None:
        parts.append(f"took {num('duration'):.1f} s; its median is {num('median_duration'):.1f} s")
    if num("retries") >= 1:
        parts.append(f"needed {int(num('retries')) + 1} attempts")
    if num("new_error") >= 1:
        parts.append(f"failed with {row.get('error_class')}, an error it never had before")
    elif num("failed") >= 1:
        parts.append(f"failed ({row.get('error_class') or 'error'})")
    if abs(num("log_output_ratio")) >= math.log(3.0):
        parts.append(f"output {int(num('output_size'))} bytes; its median is {int(num('median_output_size'))}")
    if num("log_queue_wait_ratio") >= math.log(4.0):
        parts.append(f"waited {num('queue_wait'):.1f} s in the queue; its median is {num('median_queue_wait'):.1f} s")
    if num("upstream_log_ratio") >= math.log(3.0):
        parts.append(f"an upstream task ran {math.exp(num('upstream_log_ratio')):.1f}x its median")
    return "; ".join(parts) or "an unusual combination of duration, retries and output size"


# --- the live path: the same features, one execution at a time, in plain Python --------------


class TaskBaseline(NamedTuple):
    """One (workflow, task)'s row of :func:`task_baselines`, as plain Python values."""

    median_duration: float | None
    mad_duration: float | None
    median_queue_wait: float | None
    median_output_size: float | None
    error_classes: frozenset[str]


def baseline_table(baselines: pl.DataFrame) -> dict[tuple[str, str], TaskBaseline]:
    """:func:`task_baselines`' frame as a dict keyed by (workflow, task): read once per history
    load, so scoring a task is a dict lookup and a few float operations, not a Polars join."""

    def number(value: object) -> float | None:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    table: dict[tuple[str, str], TaskBaseline] = {}
    for row in baselines.iter_rows(named=True):
        table[(row["workflow"], row["task"])] = TaskBaseline(
            number(row.get("median_duration")),
            number(row.get("mad_duration")),
            number(row.get("median_queue_wait")),
            number(row.get("median_output_size")),
            frozenset(row.get("error_classes") or ()),
        )
    return table


def _finite_or(value: float | None, default: float) -> float:
    return value if value is not None and math.isfinite(value) else default


def _log1p(value: float) -> float:
    return math.log1p(value) if value > -1.0 else (-math.inf if value == -1.0 else math.nan)


def _div(a: float, b: float) -> float:
    """``a / b`` as Polars (IEEE) divides: by zero gives an infinity or NaN, never an exception."""
    if b != 0:
        return a / b
    return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)


def _log(value: float) -> float:
    return math.log(value) if value > 0 else (-math.inf if value == 0 else math.nan)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


_TWO_PI_DAY = 2 * math.pi / 24
_NO_BASELINE = TaskBaseline(None, None, None, None, frozenset())


def row_features(row: dict[str, Any], base: TaskBaseline | None, upstream_ratios: dict[str, float]) -> dict[str, Any]:
    """``row`` (a final attempt row, with ``attempts``) with every feature of :func:`features`
    added, the same values in float64, from its task's baseline (None: no history yet).

    ``upstream_ratios``: ``log_duration_ratio`` of the run's tasks already finished (the live
    sink keeps one per run; a run's upstream tasks finish before their dependants), for
    ``upstream_log_ratio``. Kept equal to :func:`features` by test_features.py, which compares
    both on generated histories, damaged values included.
    """
    known = base is not None
    base = base or _NO_BASELINE
    median = base.median_duration
    duration = _finite_or(_number(row.get("duration")), -1.0)
    used: float | None = duration if duration >= 0 else median
    eps = 1e-3
    ratio = 0.0
    z = 0.0
    if used is not None and median is not None:
        ratio = _finite_or(_log(_div(used + eps, median + eps)), 0.0)
        if base.mad_duration is not None:
            spread = _MAD_SCALE * base.mad_duration + 0.05 * median + eps
            z = _div(used - median, spread)
            z = _finite_or(min(max(z, -_Z_LIMIT), _Z_LIMIT) if not math.isnan(z) else z, 0.0)
    wait = max(_finite_or(_number(row.get("queue_wait")), 0.0), 0.0)
    median_wait = base.median_queue_wait if base.median_queue_wait is not None else 0.0
    wait_ratio = _finite_or(_log1p(wait) - _log1p(median_wait), 0.0)
    attempts = row.get("attempts")
    attempts = int(attempts) if isinstance(attempts, int) else 1
    ok = row.get("status") == "succeeded"
    error = row.get("error_class") or ""
    output_ratio = 0.0
    if ok and base.median_output_size is not None:
        size = _number(row.get("output_size"))
        size = max(size if size is not None else 0.0, 0.0)
        output_ratio = _finite_or(_log1p(size) - _log1p(base.median_output_size), 0.0)
    finished = _number(row.get("finished_at"))
    hour = ((finished if finished is not None else 0.0) % 86400.0) / 3600.0
    upstream = 0.0
    for name in row.get("upstream") or ():
        if name in upstream_ratios:
            upstream = max(upstream, upstream_ratios[name])
    return {
        **row,
        "median_duration": median,
        "mad_duration": base.mad_duration,
        "median_queue_wait": base.median_queue_wait,
        "median_output_size": base.median_output_size,
        "error_classes": sorted(base.error_classes) if known else None,
        "log_duration_ratio": ratio,
        "duration_robust_z": z,
        "log_queue_wait_ratio": wait_ratio,
        "retries": float(max(attempts - 1, 0)),
        "excess_retries": float(max(attempts - 2, 0)),
        "failed": 0.0 if ok else 1.0,
        "new_error": 1.0 if error != "" and error not in base.error_classes and median is not None else 0.0,
        "log_output_ratio": output_ratio,
        "hour_sin": math.sin(hour * _TWO_PI_DAY),
        "hour_cos": math.cos(hour * _TWO_PI_DAY),
        "upstream_log_ratio": max(upstream, 0.0),
        "duration_surprise": abs(ratio),
        "output_surprise": abs(output_ratio),
    }
