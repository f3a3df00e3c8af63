"""The advisor: concrete changes to a workflow, each with its evidence and the YAML to paste.

Reads a workflow's task-attempt history (:func:`flowbuilder_ai.history.load_attempts`) with
Polars and the compiled plan, and proposes:

* ``flaky`` — tasks that fail now and then and pass when tried again: a ``retry`` policy;
* ``timeout_tight`` / ``timeout_loose`` — a timeout under 1.25x the task's P99 (or attempts
  that timed out), or over 20x it: a timeout of 2x P99;
* ``critical_path`` — the longest path by measured medians, when one task takes at least
  :data:`DOMINANT_SHARE` of it: the task whose halving saves the most;
* ``parallelism`` — ``concurrency`` or a pool narrower than the graph's width while tasks
  waited in the queue: the width to set;
* ``fail_together`` — tasks whose final failures happen in the same runs (one cause upstream
  or shared): an explicit dependency or a shared pool;
* ``cache_candidate`` — tasks whose runs with the same inputs always gave the same output
  (digests from :mod:`flowbuilder_ai.results`), often enough and slow enough to be worth it:
  ``cache: true``. Never for a task that signals side effects (see :func:`_side_effect`),
  that reads ``run.`` in an expression (its cache key would change every run), that already
  has ``cache:`` or says ``cache: false``, or whose outputs ever differed for the same inputs.

Each rule needs enough samples (:data:`MIN_RUNS`) so a clean history proposes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from flowbuilder.model import Task, Workflow
    from flowbuilder.plan import ExecutionPlan

MIN_RUNS = 5
"""Runs of a workflow before any rule speaks."""
FLAKY_MIN_RATE = 0.03
"""Share of failed attempts above which a task is called flaky (if retries do help)."""
TIGHT_MARGIN = 1.25
LOOSE_FACTOR = 20.0
LOOSE_FLOOR = 60.0
"""A lowered timeout is never proposed under a minute: start-up jitter of quick tasks is not worth a failure."""
DOMINANT_SHARE = 0.4
"""Share of the critical path one task must take before the advisor names it."""
QUEUE_SHARE = 0.1
"""Queue wait, as a share of the task's own median, that counts as waiting for a slot."""
CACHE_MIN_HITS = 3
"""Runs that repeated an earlier run's inputs (so the cache would have served them) before a task is proposed."""
CACHE_MIN_SECONDS = 0.1
"""Median duration under which caching a task is not worth a store read and a stored result."""
SIDE_EFFECT_TYPES = frozenset({"approval", "wait", "workflow"})
"""Task types whose result is a person's answer, the passing of time, or a child run: never cached."""
READ_ONLY_HTTP = frozenset({"GET", "HEAD", "OPTIONS"})
"""HTTP methods that change nothing; an ``http`` task with any other method has side effects."""
_READS_RUN = re.compile(r"\$\{\{(?:(?!\}\}).)*?(?<![\w.])run\s*[.\[]", re.DOTALL)
"""An expression that reads ``run.id`` or ``run.logical_time`` (not a task called ``run``)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One proposal: what, why (numbers), and the YAML to paste into the workflow."""

    kind: str
    tasks: tuple[str, ...]
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    yaml: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tasks": list(self.tasks), "message": self.message,
                "evidence": self.evidence, "yaml": self.yaml}  # fmt: skip


def _seconds(value: float) -> str:
    if value >= 3600 and value % 3600 == 0:
        return f"{int(value // 3600)}h"
    if value >= 60 and value % 60 == 0:
        return f"{int(value // 60)}m"
    return f"{int(value)}s" if value == int(value) else f"{value:.1f}s"


def _round_up(value: float) -> float:
    """A timeout a person would write: whole seconds, then whole minutes past 5 minutes."""
    if value > 300:
        return math.ceil(value / 60) * 60
    return float(max(1, math.ceil(value)))


def advise(plan: ExecutionPlan, attempts: pl.DataFrame, results: pl.DataFrame | None = None) -> list[Finding]:
    """Every proposal for ``plan``'s workflow from its ``attempts`` (columns of ``history.ATTEMPT_SCHEMA``).

    ``results`` (columns of ``results.RESULT_SCHEMA``) adds cache candidates; without it none are proposed.
    """
    import polars as pl

    names = set(plan.names)
    attempts = attempts.filter(pl.col("task").is_in(sorted(names)))
    if attempts.is_empty() or attempts["run_id"].n_unique() < MIN_RUNS:
        return []
    return [
        *_flaky(plan, attempts),
        *_timeouts(plan, attempts),
        *_critical_path(plan, attempts),
        *_parallelism(plan, attempts),
        *_fail_together(attempts),
        *(_cache_candidates(plan, results) if results is not None else []),
    ]


def _flaky(plan: ExecutionPlan, attempts: pl.DataFrame) -> list[Finding]:
    import polars as pl

    findings = []
    per_task = attempts.group_by("task").agg(
        pl.len().alias("attempts"),
        (pl.col("status") != "succeeded").sum().alias("failed"),
        ((pl.col("status") == "succeeded") & (pl.col("attempt") > 1)).sum().alias("passed_on_retry"),
        (pl.col("status") == "failed").sum().alias("final_failures"),
        pl.col("error_class").filter(pl.col("status") != "succeeded").mode().first().alias("error"),
    )
    for row in per_task.sort("task").iter_rows(named=True):
        rate = row["failed"] / row["attempts"]
        rescued = row["passed_on_retry"]
        lost = row["final_failures"]
        if rate < FLAKY_MIN_RATE or rescued + lost == 0:
            continue
        if lost == 0:  # the retry policy already rescues every failure: nothing to change
            continue
        task = plan.task(plan.index[row["task"]])
        current = task.retry or plan.workflow.defaults.retry
        tries = current.attempts if current is not None else 1
        # Enough attempts that the chance of all failing, at the observed rate, is under 1 in 1000.
        needed = max(tries + 1, min(10, math.ceil(math.log(1e-3) / math.log(max(rate, 1e-9)))))
        findings.append(Finding(
            kind="flaky",
            tasks=(row["task"],),
            message=(f"{row['task']} failed {row['failed']} of {row['attempts']} attempts ({rate:.0%}, "
                     f"mostly {row['error'] or 'error'}); {rescued} passed when tried again, {lost} runs lost it"),
            evidence={"attempts": row["attempts"], "failed": row["failed"], "failure_rate": round(rate, 4),
                      "passed_on_retry": rescued, "final_failures": lost, "current_attempts": tries},
            yaml=f"- name: {row['task']}\n  retry:\n    attempts: {needed}\n    backoff: 5s\n",
        ))  # fmt: skip
    return findings


def _timeouts(plan: ExecutionPlan, attempts: pl.DataFrame) -> list[Finding]:
    import polars as pl

    findings = []
    stats = (
        attempts.filter(pl.col("duration").is_not_null())
        .group_by("task")
        .agg(
            pl.col("duration").quantile(0.99, "higher").alias("p99"),
            pl.col("duration").median().alias("median"),
            pl.len().alias("samples"),
            (pl.col("error_class").str.to_lowercase().str.contains("timeout")).sum().alias("timed_out"),
        )
    )
    for row in stats.sort("task").iter_rows(named=True):
        task = plan.task(plan.index[row["task"]])
        timeout = task.timeout if task.timeout is not None else plan.workflow.defaults.timeout
        if timeout is None or row["samples"] < MIN_RUNS:
            continue
        p99 = float(row["p99"])
        if not math.isfinite(2 * p99):  # durations of 1e308 s: no timeout a person would write
            continue
        proposed = _round_up(2 * p99)
        evidence = {"timeout_s": timeout, "p99_s": round(p99, 3), "median_s": round(float(row["median"]), 3),
                    "samples": row["samples"], "timed_out": row["timed_out"]}  # fmt: skip
        yaml = f"- name: {row['task']}\n  timeout: {_seconds(proposed)}\n"
        if row["timed_out"] > 0 or p99 * TIGHT_MARGIN > timeout:
            findings.append(Finding("timeout_tight", (row["task"],),
                f"{row['task']}: timeout {_seconds(timeout)} against a P99 of {p99:.3g}s "
                f"({row['timed_out']} attempts timed out); raise it to {_seconds(proposed)}", evidence, yaml))  # fmt: skip
        elif timeout > LOOSE_FACTOR * p99 and max(proposed, LOOSE_FLOOR) < timeout:
            proposed = max(proposed, LOOSE_FLOOR)
            yaml = f"- name: {row['task']}\n  timeout: {_seconds(proposed)}\n"
            findings.append(Finding("timeout_loose", (row["task"],),
                f"{row['task']}: timeout {_seconds(timeout)} is {timeout / p99:.0f}x its P99 of {p99:.3g}s; "
                f"a hung attempt holds a slot that long — lower it to {_seconds(proposed)}", evidence, yaml))  # fmt: skip
    return findings


def _medians(attempts: pl.DataFrame) -> dict[str, float]:
    from flowbuilder_ai.estimates import median_durations

    return median_durations(attempts, min_samples=MIN_RUNS)


def _longest(plan: ExecutionPlan, cost: list[float]) -> tuple[float, list[int]]:
    from flowbuilder.graph import critical_path, longest_remaining_paths

    remaining, following = longest_remaining_paths(plan.topological_order, plan.successors, cost)
    path = critical_path(plan.roots(), remaining, following)
    return (remaining[path[0]] if path else 0.0), path


def _critical_path(plan: ExecutionPlan, attempts: pl.DataFrame) -> list[Finding]:
    medians = _medians(attempts)
    if len(plan) < 2 or not medians:
        return []
    fallback = sorted(medians.values())[len(medians) // 2]
    cost = [medians.get(name, fallback) for name in plan.names]
    total, path = _longest(plan, cost)
    if total <= 0 or not path:
        return []
    savings = []
    for task_id in path:
        halved = list(cost)
        halved[task_id] /= 2
        savings.append((total - _longest(plan, halved)[0], task_id))
    saved, best = max(savings)
    if cost[best] < DOMINANT_SHARE * total:  # no single task dominates: the path is balanced
        return []
    names = [plan.names[i] for i in path]
    share = cost[best] / total
    target = plan.names[best]
    return [Finding(
        kind="critical_path",
        tasks=tuple(names),
        message=(f"critical path by measured medians: {' -> '.join(names)} ({total:.1f}s); "
                 f"{target} is {share:.0%} of it — halving it saves {saved:.1f}s per run"),
        evidence={"path": names, "path_s": round(total, 3), "task": target, "task_median_s": round(cost[best], 3),
                  "saving_if_halved_s": round(saved, 3)},
        yaml=f"# speed up {target} first (split it, or give it more resources); to see it: flowbuilder plan WORKFLOW\n",
    )]  # fmt: skip


def _parallelism(plan: ExecutionPlan, attempts: pl.DataFrame) -> list[Finding]:
    import polars as pl

    workflow = plan.workflow
    medians = _medians(attempts)
    waits = (
        attempts.filter((pl.col("attempt") == 1) & pl.col("queue_wait").is_not_null())
        .group_by("task")
        .agg(pl.col("queue_wait").median().alias("wait"))
    )
    waited = {t: float(w) for t, w in waits.iter_rows() if w > QUEUE_SHARE * medians.get(t, math.inf) and w > 0.05}
    if not waited:
        return []
    findings = []
    width = plan.max_width
    if workflow.concurrency is not None and workflow.concurrency < width:
        total_wait = sum(waited.values())
        findings.append(Finding("parallelism", tuple(sorted(waited)),
            f"concurrency {workflow.concurrency} while {width} tasks can run at once; "
            f"{len(waited)} tasks waited {total_wait:.1f}s in the queue (median per run)",
            {"concurrency": workflow.concurrency, "max_width": width, "queue_wait_s": {t: round(w, 3) for t, w in sorted(waited.items())}},
            f"concurrency: {width}\n"))  # fmt: skip
    for pool, size in sorted(workflow.pools.items()):
        members = [t.name for t in workflow.tasks if (t.pool or workflow.defaults.pool) == pool]
        in_level = max((sum(1 for i in level if plan.names[i] in members) for level in plan.levels), default=0)
        blocked = sorted(t for t in members if t in waited)
        if size < in_level and blocked:
            findings.append(Finding("parallelism", tuple(blocked),
                f"pool {pool} has {size} slots while {in_level} of its tasks can run at once; "
                f"{', '.join(blocked)} waited for it",
                {"pool": pool, "size": size, "width": in_level, "queue_wait_s": {t: round(waited[t], 3) for t in blocked}},
                f"pools:\n  {pool}: {in_level}\n"))  # fmt: skip
    return findings


def _fail_together(attempts: pl.DataFrame) -> list[Finding]:
    import polars as pl

    failed = attempts.filter(pl.col("status") == "failed").select("task", "run_id").unique()
    runs_of: dict[str, set[str]] = {}
    for task, run_id in failed.iter_rows():
        runs_of.setdefault(task, set()).add(run_id)
    candidates = sorted(t for t, runs in runs_of.items() if len(runs) >= 3)
    findings = []
    for i, first in enumerate(candidates):
        for second in candidates[i + 1 :]:
            both = runs_of[first] & runs_of[second]
            either = runs_of[first] | runs_of[second]
            if len(both) >= 3 and len(both) / len(either) >= 0.8:
                findings.append(Finding("fail_together", (first, second),
                    f"{first} and {second} failed in the same {len(both)} runs (of {len(either)} where either failed): "
                    "one cause — make the later depend on the earlier, or guard the shared resource with a pool",
                    {"together": len(both), "either": len(either), "jaccard": round(len(both) / len(either), 3)},
                    f"- name: {second}\n  depends_on: [{first}]\n"))  # fmt: skip
    return findings


def _side_effect(task: Task, workflow: Workflow) -> str | None:
    """Why ``task`` is not a cache candidate whatever its history says, or None.

    The signals a workflow already gives: ``cache:`` written on the task (``false`` is the way
    to say "this one has side effects"; anything else means it is cached already) or in
    ``defaults``; a ``lock`` (it guards a shared resource); a type that waits for a person or
    for time, or starts a child run; an ``http`` method other than GET, HEAD, OPTIONS; a
    ``run_if`` other than ``all_succeeded`` (cleanup and notification tasks); an expression
    that reads ``run.`` (the cache key would change every run).
    """
    if workflow.cache_policy(task) is not None or "cache" in task.model_fields_set:
        return "cache"
    if task.lock is not None or ("lock" not in task.model_fields_set and workflow.defaults.lock is not None):
        return "lock"
    if task.type in SIDE_EFFECT_TYPES:
        return "type"
    if task.type == "http" and str(task.config.get("method", "GET")).upper() not in READ_ONLY_HTTP:
        return "method"
    if task.run_if != "all_succeeded":
        return "run_if"
    templates = (task.config, task.env, task.foreach, task.outputs, workflow.env)
    if _READS_RUN.search(repr(templates)):
        return "run"
    return None


def _cache_candidates(plan: ExecutionPlan, results: pl.DataFrame) -> list[Finding]:
    import polars as pl

    workflow = plan.workflow
    eligible = sorted(t.name for t in workflow.tasks if _side_effect(t, workflow) is None)
    ran = results.filter(pl.col("task").is_in(eligible) & ~pl.col("served") & pl.col("input_digest").is_not_null())
    if ran.is_empty():
        return []
    sets = ran.group_by("task", "input_digest").agg(
        pl.len().alias("runs"), pl.col("output_digest").n_unique().alias("outputs")
    )
    per_task = (
        sets.group_by("task")
        .agg(
            pl.col("runs").sum().alias("total"),
            pl.col("runs").filter(pl.col("runs") > 1).sum().alias("same_input_runs"),
            (pl.col("runs") > 1).sum().alias("input_sets"),
            (pl.col("runs") - 1).sum().alias("hits"),
            pl.col("outputs").max().alias("most_outputs"),
        )
        .join(
            ran.group_by("task").agg(
                pl.col("duration").median().alias("median"), pl.col("output_empty").all().alias("empty")
            ),
            on="task",
        )
    )
    findings = []
    for row in per_task.sort("task").iter_rows(named=True):
        median = row["median"]
        if row["most_outputs"] != 1 or row["empty"] or row["hits"] < CACHE_MIN_HITS:
            continue  # outputs differed for the same inputs, it returns nothing, or too few repeats
        if median is None or median < CACHE_MIN_SECONDS:
            continue
        same, sets_count, hits, total = row["same_input_runs"], row["input_sets"], row["hits"], row["total"]
        saved = hits * float(median)
        several = f" ({sets_count} sets of inputs)" if sets_count > 1 else ""
        findings.append(Finding(
            kind="cache_candidate",
            tasks=(row["task"],),
            message=(f"{row['task']}: {same} of {same} runs with the same inputs gave the same output{several}; "
                     f"{hits} of its {total} runs could have been served from the cache (median {median:.3g}s, "
                     f"{saved:.3g}s in all). If it depends on nothing its config, env, params and upstream "
                     "outputs do not show (a file, the clock, a remote service), cache it"),
            evidence={"runs": total, "same_input_runs": same, "input_sets": sets_count, "would_hit": hits,
                      "outputs_per_input_set": 1, "median_s": round(float(median), 3), "saved_s": round(saved, 3)},
            yaml=f"- name: {row['task']}\n  cache: true\n",
        ))  # fmt: skip
    return findings


__all__ = ["CACHE_MIN_HITS", "CACHE_MIN_SECONDS", "MIN_RUNS", "Finding", "advise"]
