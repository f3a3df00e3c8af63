"""A seeded generator of realistic task history with labelled, injected anomalies.

Used to train the shipped model (training/train_model.py), to evaluate it (bench/ai_eval.py)
and in tests. Shapes: per-task log-normal durations (each task its own median and spread),
a daily cycle (tasks run up to 30% slower at the busy hour), queue waits, occasional
retries and rare final failures with the task's usual error class, output sizes around a
per-task median. Injected anomalies (label 1, ``anomaly`` names the kind): slowdowns of
3-20x, retry storms (4-8 attempts), output-size jumps (10-100x or nearly empty), and new
failure modes (an error class the task never had). Same seed, same frame, on every machine
(numpy's PCG64 stream; no wall clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from flowbuilder_ai.history import ATTEMPT_SCHEMA

ANOMALY_KINDS = ("slowdown", "retry_storm", "output_jump", "new_failure")
_USUAL_ERRORS = ("ConnectionError", "TimeoutError", "HTTPError", "OSError")
_NEW_ERRORS = ("MemoryError", "PermissionError", "KeyError", "UnicodeDecodeError")
_DAY = 86400.0


@dataclass(frozen=True)
class HistoryShape:
    """What to generate: workflows x tasks x runs, and how often things go wrong."""

    workflows: int = 4
    tasks_per_workflow: int = 8
    runs_per_workflow: int = 400
    retry_rate: float = 0.03
    failure_rate: float = 0.005
    anomaly_rate: float = 0.0
    start: float = 1_750_000_000.0
    run_every: float = 1800.0  # seconds between a workflow's runs (so runs cover many days)


def generate(seed: int, shape: HistoryShape = HistoryShape()) -> pl.DataFrame:
    """Attempt rows (:data:`~flowbuilder_ai.history.ATTEMPT_SCHEMA`) plus ``label`` (0/1) and
    ``anomaly`` (the kind, "" for normal) — one label per execution, repeated on its attempts."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for w in range(shape.workflows):
        workflow = f"wf{w}"
        names = [f"t{t}" for t in range(shape.tasks_per_workflow)]
        medians = np.exp(rng.uniform(np.log(0.3), np.log(120.0), len(names)))
        sigmas = rng.uniform(0.08, 0.25, len(names))
        sizes = np.exp(rng.uniform(np.log(50), np.log(200_000), len(names)))
        usual = [_USUAL_ERRORS[i % len(_USUAL_ERRORS)] for i in rng.integers(0, 4, len(names))]
        upstream = [[names[i - 1]] if i and rng.random() < 0.8 else [] for i in range(len(names))]
        for r in range(shape.runs_per_workflow):
            run_id = f"{workflow}-r{r:05d}"
            clock = shape.start + r * shape.run_every + rng.uniform(0, 60)
            cycle = 1.0 + 0.3 * max(0.0, np.sin(2 * np.pi * ((clock % _DAY) / _DAY)))
            ended: dict[str, float] = {}
            for i, task in enumerate(names):
                ready = max((ended[u] for u in upstream[i] if u in ended), default=clock)
                kind = ""
                if shape.anomaly_rate and rng.random() < shape.anomaly_rate:
                    kind = ANOMALY_KINDS[int(rng.integers(0, len(ANOMALY_KINDS)))]
                duration = float(medians[i] * cycle * rng.lognormal(0.0, sigmas[i]))
                if kind == "slowdown":
                    duration *= float(rng.uniform(3.0, 20.0))
                size = int(sizes[i] * rng.lognormal(0.0, 0.1))
                if kind == "output_jump":
                    size = int(size * rng.uniform(10, 100)) if rng.random() < 0.5 else int(rng.integers(0, 3))
                attempts = 1
                if kind == "retry_storm":
                    attempts = int(rng.integers(4, 9))
                elif rng.random() < shape.retry_rate:
                    attempts = 2
                final_fail = kind == "new_failure" or (not kind and rng.random() < shape.failure_rate)
                error = str(rng.choice(_NEW_ERRORS)) if kind == "new_failure" else usual[i]
                start = ready + float(rng.exponential(0.05))
                for a in range(1, attempts + 1):
                    last = a == attempts
                    took = duration if last else duration * float(rng.uniform(0.1, 1.0))
                    status = ("failed" if final_fail else "succeeded") if last else "retrying"
                    rows.append({
                        "run_id": run_id, "workflow": workflow, "task": task, "attempt": a,
                        "status": status, "error_class": "" if status == "succeeded" else error,
                        "started_at": start, "finished_at": start + took, "duration": took,
                        "queue_wait": start - ready if a == 1 else 0.0,
                        "output_size": size if status == "succeeded" else 0,
                        "exit_code": 0 if status == "succeeded" else 1,
                        "upstream": upstream[i], "label": int(bool(kind)), "anomaly": kind,
                    })  # fmt: skip
                    start += took + 1.0
                ended[task] = start
    schema = {**ATTEMPT_SCHEMA, "label": pl.Int64, "anomaly": pl.Utf8}
    return pl.DataFrame(rows, schema=schema)


def inject_anomalies(execs: pl.DataFrame, rate: float, seed: int) -> pl.DataFrame:
    """A copy of real executions (:func:`flowbuilder_ai.features.executions`) where a share
    ``rate`` of the successful ones is turned into labelled anomalies of each kind; adds
    ``label`` and ``anomaly``. Used to evaluate a model retrained on unlabelled history."""
    rng = np.random.default_rng(seed)
    n = execs.height
    pick = (rng.random(n) < rate) & (execs["status"] == "succeeded").to_numpy()
    kinds = np.where(pick, rng.integers(0, len(ANOMALY_KINDS), n), -1)
    kind = pl.Series("anomaly", [ANOMALY_KINDS[k] if k >= 0 else "" for k in kinds.tolist()])
    slow = pl.Series("slow", rng.uniform(3.0, 20.0, n))
    storm = pl.Series("storm", rng.integers(4, 9, n))
    jump = pl.Series("jump", np.where(rng.random(n) < 0.5, rng.uniform(10, 100, n), 0.0))
    frame = execs.with_columns(kind, slow, storm, jump)
    is_ = pl.col("anomaly").__eq__
    return frame.with_columns(
        pl.when(is_("slowdown"))
        .then(pl.col("duration") * pl.col("slow"))
        .otherwise(pl.col("duration"))
        .alias("duration"),
        pl.when(is_("retry_storm")).then(pl.col("storm")).otherwise(pl.col("attempts")).alias("attempts"),
        pl.when(is_("output_jump"))
        .then((pl.col("output_size") * pl.col("jump")).cast(pl.Int64))
        .otherwise(pl.col("output_size"))
        .alias("output_size"),
        pl.when(is_("new_failure")).then(pl.lit("failed")).otherwise(pl.col("status")).alias("status"),
        pl.when(is_("new_failure"))
        .then(pl.lit("InjectedNewError"))
        .otherwise(pl.col("error_class"))
        .alias("error_class"),
        (pl.col("anomaly") != "").cast(pl.Int64).alias("label"),
    ).drop("slow", "storm", "jump")
