"""Predicted finish of a live run: the longest path of work still ahead, in measured seconds.

Why the remaining critical path and not "mean total minus elapsed": a run that is slow early
(or whose slow branch has already finished) is told apart, and the prediction tightens as tasks
finish. It ignores concurrency limits (a pool of one makes a run longer than its path): the
evaluation in ``bench/ai_eta.py`` measures how much that costs against the naive floor.

Plain Python over the plan's flat lists: called once per finished task, never per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from flowbuilder.plan import ExecutionPlan


@dataclass(frozen=True, slots=True)
class Prediction:
    """One prediction for a live run.

    Attributes:
        remaining: seconds of work still ahead on the longest remaining path.
        finish_at: predicted end (epoch seconds): ``now + remaining``.
        total: predicted whole duration of the run (``finish_at - started_at``).
        sla: the workflow's ``sla`` in seconds, or None.
        misses_sla: whether ``total`` exceeds ``sla``.
        path: task names on the remaining critical path, first first.
    """

    remaining: float
    finish_at: float
    total: float
    sla: float | None
    misses_sla: bool
    path: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "remaining_s": round(self.remaining, 3),
            "finish_at": round(self.finish_at, 3),
            "total_s": round(self.total, 3),
            "sla_s": self.sla,
            "misses_sla": self.misses_sla,
            "path": list(self.path),
        }


def predict_finish(
    plan: ExecutionPlan,
    durations: Mapping[str, float],
    *,
    started_at: float,
    now: float,
    finished: frozenset[str] | set[str],
    running: Mapping[str, float],
) -> Prediction:
    """Predict when the run ends.

    ``durations``: expected seconds per task name (measured medians); a task without one
    costs the median of the known ones (1 s if none is known). ``finished``: names that ended
    (succeeded, failed, skipped). ``running``: name -> epoch seconds its current attempt
    started; its cost is what is left of its expected duration, never below a tenth of it
    (an overrunning task is not about to end just because its median has passed).
    """
    names = plan.names
    known = sorted(v for v in durations.values() if v > 0)
    fallback = known[len(known) // 2] if known else 1.0
    cost = [0.0] * len(names)
    for task_id, name in enumerate(names):
        if name in finished:
            continue
        expected = durations.get(name, fallback)
        if expected <= 0:
            expected = fallback
        began = running.get(name)
        if began is not None:
            cost[task_id] = max(expected - max(now - began, 0.0), expected * 0.1)
        else:
            cost[task_id] = expected
    remaining = [0.0] * len(names)
    following = [-1] * len(names)
    successors = plan.successors
    for node in reversed(plan.topological_order):
        best, best_next = 0.0, -1
        for successor in successors[node]:
            if remaining[successor] > best:
                best, best_next = remaining[successor], successor
        remaining[node] = cost[node] + best
        following[node] = best_next
    start = max(range(len(names)), key=remaining.__getitem__, default=-1)
    ahead = remaining[start] if start >= 0 else 0.0
    path: list[str] = []
    node = start
    while node >= 0 and ahead > 0:
        if cost[node] > 0:
            path.append(names[node])
        node = following[node]
    sla = plan.workflow.sla
    finish_at = now + ahead
    total = finish_at - started_at
    return Prediction(
        remaining=ahead,
        finish_at=finish_at,
        total=total,
        sla=sla,
        misses_sla=sla is not None and total > sla,
        path=tuple(path),
    )


__all__ = ["Prediction", "predict_finish"]
