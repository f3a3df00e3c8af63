"""What each task of a workflow takes, as a distribution: the ETA's model of the work ahead.

Per task, from its successful executions in the history (first attempt's start to last
attempt's end, so retries count):

    log(seconds) = level + a * cos(hour) + b * sin(hour) + residual

``hour`` is the time of day (UTC) the execution started: a task that is slower at the busy
hour is predicted slower when the run is at the busy hour. The daily terms are kept only
when they explain the history better than noise would (an F-test at 1%), so a task without
a cycle is not given one from 30 noisy runs. The residuals are kept as they are (not a
fitted spread): sampling them reproduces the history's own tail, retries and all.

:func:`flowbuilder_ai.eta.predict_finish` draws from these distributions (a fixed seed: the
same inputs give the same prediction) to find the distribution of the longest remaining
path, whose median is the prediction: the longest of several noisy paths is longer than the
longest of their medians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Mapping

import numpy as np

if TYPE_CHECKING:
    import polars as pl

MIN_RUNS = 3
"""Successful executions a task needs to get a distribution (fewer: the median of the others)."""
MIN_RUNS_FOR_CYCLE = 12
"""Successful executions before a daily cycle is even tried (it costs two parameters)."""
MAX_RUNS = 500
"""The most recent executions per task the model keeps (old behaviour ages out)."""
_CYCLE_F_1PCT = 5.5
"""About the 99th percentile of F(2, n - 3) for the n this sees (4.9 at n = 500, 5.6 at n = 30)."""
SAMPLES = 256
"""Scenarios per prediction: draws of each task's duration (a prediction costs about 0.3 ms
for 8-40 tasks: bench/ai_eta.py)."""
_SEED = 14
_DAY = 86400.0


@dataclass(frozen=True, slots=True, eq=False)  # arrays inside: compared by identity
class TaskDurations:
    """One task's fitted distribution of seconds.

    Attributes:
        level: mean log-seconds (at the daily cycle's zero).
        cos, sin: the daily cycle's terms on log-seconds (0.0 without a cycle).
        residuals: log residuals of the history around the fit (sorted, float64).
        noise: variance of the residuals that is the task's own (not shared by its run).
        bandwidth: the normal kernel's standard deviation :meth:`draw` blurs residuals with.
        draws: :data:`SAMPLES` log residuals drawn once at fit (seeded): the scenarios every
            prediction uses for a task not started yet (the same ones each time, so a
            prediction moves with the run, not with the dice).
    """

    level: float
    cos: float
    sin: float
    residuals: np.ndarray
    noise: float = 0.0
    bandwidth: float = 0.0
    draws: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def centre(self, at: float) -> float:
        """Mean log-seconds of an execution starting at epoch ``at``."""
        if not (self.cos or self.sin):
            return self.level
        angle = (at % _DAY) / _DAY * 2 * math.pi
        return self.level + self.cos * math.cos(angle) + self.sin * math.sin(angle)

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` log residuals: the history's, each blurred by a normal kernel (Silverman's
        bandwidth), so the tail goes on smoothly past the largest one seen."""
        picked = self.residuals[rng.integers(0, len(self.residuals), count)]
        return picked + rng.normal(0.0, self.bandwidth, count) if self.bandwidth > 0 else picked

    def median(self, at: float) -> float:
        """Median seconds of an execution starting at epoch ``at``."""
        values, count = self.residuals, len(self.residuals)  # sorted
        return math.exp(self.centre(at) + float(values[(count - 1) // 2] + values[count // 2]) / 2)


@dataclass(frozen=True, slots=True)
class DurationModel:
    """The distributions of a workflow's tasks (by task name); see the module docstring.

    ``run_spread``: the standard deviation (log-seconds) of what runs of the history shared:
    how far a whole run's tasks move together (a loaded machine, a bigger input). 0 when the
    tasks of a run vary independently; then one run's slow start says nothing of its rest.
    """

    tasks: Mapping[str, TaskDurations]
    run_spread: float = 0.0

    def run_shift(self, ended: Mapping[str, tuple[float, float]]) -> float:
        """How much slower (log-seconds, > 0) this run is going than its history, from the
        tasks that ended: ``name -> (started, finished)`` epoch seconds.

        The precision-weighted mean of their residuals, shrunk toward 0 by :attr:`run_spread`
        (the posterior mean of a run effect shared by all its tasks).
        """
        prior = self.run_spread**2
        if prior <= 0:
            return 0.0
        weighted, weights = 0.0, 1.0 / prior
        for name, (started, finished) in ended.items():
            task = self.tasks.get(name)
            seconds = finished - started
            if task is None or not seconds > 0 or not math.isfinite(seconds):
                continue
            weight = 1.0 / max(task.noise, 1e-4)
            weighted += weight * (math.log(seconds) - task.centre(started))
            weights += weight
        return weighted / weights

    def medians(self, at: float) -> dict[str, float]:
        """Median seconds per task for executions starting at epoch ``at``."""
        return {name: task.median(at) for name, task in self.tasks.items()}

    @classmethod
    def fit(cls, attempts: pl.DataFrame) -> DurationModel:
        """Fit from attempt rows (:data:`flowbuilder_ai.history.ATTEMPT_SCHEMA`; one workflow's).

        An execution counts when its last attempt succeeded and it took a positive, finite time.
        """
        import polars as pl

        if attempts.is_empty():
            return cls({})
        spans = (
            attempts.sort("finished_at", "attempt", nulls_last=False)
            .group_by("run_id", "task")
            .agg(
                pl.col("started_at").min().alias("start"),
                (pl.col("finished_at").max() - pl.col("started_at").min()).alias("seconds"),
                pl.col("status").last().alias("final"),
            )
            .filter(
                (pl.col("final") == "succeeded")
                & pl.col("seconds").is_finite()
                & (pl.col("seconds") > 0)
                & pl.col("start").is_finite()
            )
            .sort("task", "start", "run_id")
        )
        tasks: dict[str, TaskDurations] = {}
        runs: list[np.ndarray] = []
        residuals: list[np.ndarray] = []
        for (name,), group in spans.group_by("task", maintain_order=True):
            if group.height < MIN_RUNS:
                continue
            group = group.tail(MAX_RUNS)
            starts, logs = group["start"].to_numpy(), np.log(group["seconds"].to_numpy())
            task = _fit_task(starts, logs)
            tasks[str(name)] = task
            runs.append(group["run_id"].to_numpy())
            residuals.append(logs - np.array([task.centre(at) for at in starts]))
        if not tasks:
            return cls({})
        spread = _run_spread(list(tasks), runs, residuals)
        own = {name: max(float(np.var(r)) - spread**2, 0.0) for name, r in zip(tasks, residuals, strict=True)}
        rng = np.random.default_rng(_SEED)
        fitted: dict[str, TaskDurations] = {}
        for name, task in tasks.items():
            task = replace(task, noise=own[name], bandwidth=_bandwidth(task.residuals))
            fitted[name] = replace(task, draws=task.draw(rng, SAMPLES))
        return cls(fitted, spread)


def _bandwidth(values: np.ndarray) -> float:
    """Silverman's rule of thumb: 0.9 min(sd, IQR / 1.34) n^-1/5."""
    if len(values) < 2:
        return 0.0
    quartiles = np.quantile(values, [0.25, 0.75])
    spread = min(float(np.std(values)), float(quartiles[1] - quartiles[0]) / 1.34) or float(np.std(values))
    return 0.9 * spread * math.pow(len(values), -0.2)


def _run_spread(names: list[str], runs: list[np.ndarray], residuals: list[np.ndarray]) -> float:
    """Method of moments: the variance of each run's mean residual beyond what its tasks' own
    noise explains (each task's variance, counted once per task in the run)."""
    variance = {name: float(np.var(r)) for name, r in zip(names, residuals, strict=True)}
    by_run: dict[object, list[tuple[float, float]]] = {}
    for name, run_ids, values in zip(names, runs, residuals, strict=True):
        for run_id, value in zip(run_ids.tolist(), values.tolist(), strict=True):
            by_run.setdefault(run_id, []).append((value, variance[name]))
    excess = []
    for members in by_run.values():
        if len(members) < 2:
            continue
        mean = sum(v for v, _ in members) / len(members)
        count = len(members)  # each variance holds the run's share too: E[excess] = spread^2 (1 - 1/count)
        excess.append((mean**2 - sum(w for _, w in members) / count**2) / (1 - 1 / count))
    if len(excess) < 5:
        return 0.0
    return math.sqrt(max(sum(excess) / len(excess), 0.0))


def _fit_task(starts: np.ndarray, logs: np.ndarray) -> TaskDurations:
    level = float(logs.mean())
    flat = logs - level
    if len(logs) >= MIN_RUNS_FOR_CYCLE:
        angle = (starts % _DAY) / _DAY * 2 * math.pi
        design = np.column_stack([np.ones_like(angle), np.cos(angle), np.sin(angle)])
        coef, *_ = np.linalg.lstsq(design, logs, rcond=None)
        fitted = logs - design @ coef
        flat_ss, cycle_ss = float(flat @ flat), float(fitted @ fitted)
        dof = len(logs) - 3
        ratio = (flat_ss - cycle_ss) / 2 / (cycle_ss / dof) if cycle_ss > 0 else 0.0
        if ratio > _CYCLE_F_1PCT:
            # Shrunk by (F - 1) / F, the share of the fitted swing that is signal rather than noise:
            # a cycle fitted to 30 noisy runs overshoots, and an overshooting cycle misleads more than none.
            keep = (ratio - 1) / ratio
            cos, sin = float(coef[1]) * keep, float(coef[2]) * keep
            residual = logs - float(coef[0]) - cos * np.cos(angle) - sin * np.sin(angle)
            mean = float(residual.mean())
            return TaskDurations(float(coef[0]) + mean, cos, sin, np.sort(residual - mean))
    return TaskDurations(level, 0.0, 0.0, np.sort(flat))


__all__ = ["MIN_RUNS", "SAMPLES", "DurationModel", "TaskDurations"]
