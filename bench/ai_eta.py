"""Evaluation: error of flowbuilder-ai's predicted finish at 25%, 50% and 75% of a run.

    python bench/ai_eta.py            # 40 workflows x 30 evaluated runs
    python bench/ai_eta.py --quick    # 10 x 10
    python bench/ai_eta.py --json

Workflows are generated (random DAGs of 8-40 tasks, each task with its own log-normal
duration, a daily cycle on some tasks, rare retries that double an attempt); each has a
history of 30 runs, from which the medians are taken (:func:`flowbuilder_ai.estimates.median_durations`,
the compile pass's numbers). Then new runs are simulated event by event (unlimited concurrency,
as the prediction assumes) and at 25/50/75% of each run's true duration the prediction
(:func:`flowbuilder_ai.eta.predict_finish`, the sink's function) is compared with the true
remaining time. Error = |predicted remaining - true remaining| / true remaining. History rows
carry epoch times (each run on its own day, at the hour its cycle used), as a store's do.

Rows: ``prediction`` — the sink's: :class:`flowbuilder_ai.duration_model.DurationModel` fitted
on the history, sampled; ``path of medians`` — the same function given the medians only (the
compile pass's numbers; the sink's prediction before the model); ``naive floor`` — "mean total
duration of the history minus elapsed" (never below 0), all in the same run. Cost per call of
the first two is printed too.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from typing import Any

import polars as pl

from flowbuilder.compiler import compile_workflow
from flowbuilder.config import Settings
from flowbuilder.diagnostics import Locator
from flowbuilder.loader import validate_document
from flowbuilder.plan import ExecutionPlan
from flowbuilder.plugins import build_plugin_host
from flowbuilder_ai.duration_model import DurationModel
from flowbuilder_ai.estimates import median_durations
from flowbuilder_ai.eta import predict_finish
from flowbuilder_ai.history import ATTEMPT_SCHEMA

FRACTIONS = (0.25, 0.5, 0.75)
EPOCH = 1_750_032_000.0  # a UTC midnight: history rows carry real epoch times, as a store's do


def make_plan(rng: random.Random, number: int, task_types: Any) -> ExecutionPlan:
    count = rng.randint(8, 40)
    tasks = []
    for i in range(count):
        parents = sorted({f"t{rng.randrange(i)}" for _ in range(rng.randint(0, 2))}) if i else []
        tasks.append({"name": f"t{i}", "type": "shell", "depends_on": parents, "config": {"command": "true"}})
    workflow = validate_document({"name": f"gen{number}", "tasks": tasks}, Locator("<generated>"))
    return compile_workflow(workflow, task_types)


class Shape:
    """Each task's duration model: log-normal around its own median, a daily cycle, rare retries."""

    def __init__(self, rng: random.Random, plan: ExecutionPlan) -> None:
        self.median = {n: math.exp(rng.uniform(math.log(0.5), math.log(120))) for n in plan.names}
        self.sigma = {n: rng.uniform(0.05, 0.5) for n in plan.names}
        self.daily = {n: rng.random() < 0.3 for n in plan.names}

    def draw(self, rng: random.Random, name: str, hour: float) -> float:
        seconds = self.median[name] * rng.lognormvariate(0, self.sigma[name])
        if self.daily[name]:
            seconds *= 1 + 0.3 * math.sin(hour / 24 * 2 * math.pi)
        if rng.random() < 0.03:  # a retry: the attempt runs twice
            seconds *= 2
        return seconds


def simulate(rng: random.Random, plan: ExecutionPlan, shape: Shape, hour: float) -> dict[str, tuple[float, float]]:
    """Start and end (seconds from the run's start) of every task, unlimited concurrency."""
    times: dict[str, tuple[float, float]] = {}
    for task_id in plan.topological_order:
        start = max((times[plan.names[p]][1] for p in plan.predecessors[task_id]), default=0.0)
        name = plan.names[task_id]
        times[name] = (start, start + shape.draw(rng, name, hour))
    return times


def evaluate(workflows: int, runs: int, seed: int = 14) -> dict[str, Any]:
    rng = random.Random(seed)
    task_types = build_plugin_host(Settings(load_plugins=("core", "flowrunner"))).task_types()
    errors: dict[str, dict[float, list[float]]] = {
        "prediction": {f: [] for f in FRACTIONS},
        "path of medians": {f: [] for f in FRACTIONS},
        "naive floor": {f: [] for f in FRACTIONS},
    }
    seconds: dict[str, list[float]] = {"prediction": [], "path of medians": []}
    for number in range(workflows):
        plan = make_plan(rng, number, task_types)
        shape = Shape(rng, plan)
        rows, totals = [], []
        for past in range(30):
            hour = rng.uniform(0, 24)
            times = simulate(rng, plan, shape, hour)
            totals.append(max(end for _, end in times.values()))
            day = EPOCH + past * 86400 + hour * 3600  # the run's start, as a real history records it
            rows.extend({"run_id": f"r{past}", "workflow": plan.workflow.name, "task": n, "attempt": 1, "status": "succeeded",
                         "error_class": "", "started_at": day + s, "finished_at": day + e, "duration": e - s,
                         "queue_wait": 0.0, "output_size": 0, "exit_code": 0, "upstream": []}
                        for n, (s, e) in times.items())  # fmt: skip
        attempts = pl.DataFrame(rows, schema=ATTEMPT_SCHEMA)
        durations = median_durations(attempts)
        model = DurationModel.fit(attempts)
        mean_total = statistics.fmean(totals)
        for later in range(runs):
            hour = rng.uniform(0, 24)
            times = simulate(rng, plan, shape, hour)
            start = EPOCH + (30 + later) * 86400 + hour * 3600
            total = max(end for _, end in times.values())
            for fraction in FRACTIONS:
                now = fraction * total
                finished = {n for n, (_, e) in times.items() if e <= now}
                running = {n: start + s for n, (s, e) in times.items() if s <= now < e}
                ended = {n: (start + s, start + e) for n, (s, e) in times.items() if e <= now}
                truth = total - now
                clock = time.perf_counter()
                predicted = predict_finish(plan, model, started_at=start, now=start + now, finished=finished,
                                           running=running, ended=ended)  # fmt: skip
                seconds["prediction"].append(time.perf_counter() - clock)
                errors["prediction"][fraction].append(abs(predicted.remaining - truth) / truth)
                clock = time.perf_counter()
                medians = predict_finish(plan, durations, started_at=start, now=start + now, finished=finished,
                                         running=running)  # fmt: skip
                seconds["path of medians"].append(time.perf_counter() - clock)
                errors["path of medians"][fraction].append(abs(medians.remaining - truth) / truth)
                errors["naive floor"][fraction].append(abs(max(mean_total - now, 0.0) - truth) / truth)
    report: dict[str, Any] = {"workflows": workflows, "runs_each": runs, "rows": [],
                              "us_per_call": {k: statistics.median(v) * 1e6 for k, v in seconds.items()}}  # fmt: skip
    for name, by_fraction in errors.items():
        for fraction, values in by_fraction.items():
            values.sort()
            report["rows"].append({"estimate": name, "at": f"{fraction:.0%}", "median_error": statistics.median(values),
                                   "p90_error": values[int(0.9 * (len(values) - 1))]})  # fmt: skip
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = evaluate(10, 10) if args.quick else evaluate(40, 30)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"ETA error as a share of the true remaining time ({report['workflows']} generated workflows x {report['runs_each']} runs)"
    )
    print(f"{'estimate':<16} {'at':>4} {'median':>8} {'P90':>8}")
    for row in report["rows"]:
        print(f"{row['estimate']:<16} {row['at']:>4} {row['median_error']:>8.1%} {row['p90_error']:>8.1%}")
    cost = report["us_per_call"]
    print(f"cost per prediction (median, 8-40 tasks): sampled {cost['prediction']:.0f} us, "
          f"path of medians (the floor) {cost['path of medians']:.0f} us")  # fmt: skip
    print(f"command: {' '.join([sys.executable.rsplit('/', 1)[-1], *sys.argv])}")


if __name__ == "__main__":
    main()
