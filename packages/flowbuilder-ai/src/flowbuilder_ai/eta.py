"""Predicted finish of a live run: the longest path of work still ahead, in measured seconds.

Why the remaining critical path and not "mean total minus elapsed": a run that is slow early
(or whose slow branch has already finished) is told apart, and the prediction tightens as tasks
finish. The sink's prediction samples each task's duration from its history
(:class:`~flowbuilder_ai.duration_model.DurationModel`: time of day, the history's own tail,
how this run is going), because the longest of several noisy paths is longer than the
longest of their medians; ``bench/ai_eta.py`` measures it beside the path of medians and the
naive floor. It ignores concurrency limits (a pool of one makes a run longer than its path).

Called as tasks finish (at most every 50 ms, :class:`EtaSink`), never per event: a loop over
the plan's flat lists with numpy rows of :data:`SAMPLES` scenarios (about 0.3 ms for 8-40
tasks, bench/ai_eta.py).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np

from flowbuilder.annotations import Annotation
from flowbuilder.events import EventKind
from flowbuilder.interfaces import EventSink
from flowbuilder_ai.duration_model import SAMPLES, DurationModel

if TYPE_CHECKING:
    from flowbuilder.events import RunEvent
    from flowbuilder.interfaces import Store
    from flowbuilder.plan import ExecutionPlan

ETA_KIND = "eta"
"""Annotation kind of a prediction (payload: :meth:`Prediction.as_dict`)."""
SLA_KIND = "sla_warning"
"""Annotation kind of the warning that a run will miss its workflow's ``sla`` (written once per run)."""
AUTHOR = "flowbuilder-ai"
HISTORY_RUNS = 200
"""The most recent runs of a workflow the sink's model is fitted on (:func:`run_model`)."""
_ENDED = (EventKind.TASK_SUCCEEDED, EventKind.TASK_SKIPPED, EventKind.TASK_CANCELLED)


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
    durations: Mapping[str, float] | DurationModel,
    *,
    started_at: float,
    now: float,
    finished: frozenset[str] | set[str],
    running: Mapping[str, float],
    ended: Mapping[str, tuple[float, float]] | None = None,
) -> Prediction:
    """Predict when the run ends.

    ``durations``: either a :class:`~flowbuilder_ai.duration_model.DurationModel` fitted on the
    workflow's history (the sink's), or expected seconds per task name (measured medians,
    e.g. the compile pass's). ``finished``: names that ended (succeeded, failed, skipped).
    ``running``: name -> epoch seconds its current attempt started. ``ended``: name ->
    (started, finished) epoch seconds of tasks that ended, used with a model to see how this
    run is going against its history.

    With medians, each task costs its median; a running task what is left of it, never below
    a tenth of it (an overrunning task is not about to end just because its median has
    passed); a task without a median costs the median of the known ones (1 s if none).

    With a model, :data:`SAMPLES` scenarios are drawn (seeded: same inputs, same answer): each
    task's seconds from its distribution at the time of day it runs, shifted by how much
    slower or faster this run's ended tasks were than their history (shrunk toward none by
    how much runs of the history moved together, :attr:`DurationModel.run_spread`); a running
    task's from its distribution beyond the time it has already run. ``remaining`` is the
    :data:`PREDICTION_QUANTILE` of the longest remaining path over the scenarios; ``path`` is
    the longest path of the tasks' medians.
    """
    names = plan.names
    if isinstance(durations, DurationModel):
        medians, cost = _sampled_costs(plan, durations, now=now, finished=finished, running=running, ended=ended)
    else:
        medians, cost = _median_costs(names, durations, now=now, finished=finished, running=running), None
    remaining = [0.0] * len(names)
    following = [-1] * len(names)
    successors = plan.successors
    for node in reversed(plan.topological_order):
        best, best_next = 0.0, -1
        for successor in successors[node]:
            if remaining[successor] > best:
                best, best_next = remaining[successor], successor
        remaining[node] = medians[node] + best
        following[node] = best_next
    start = max(range(len(names)), key=remaining.__getitem__, default=-1)
    ahead = remaining[start] if start >= 0 else 0.0
    path: list[str] = []
    node = start
    while node >= 0 and ahead > 0:
        if medians[node] > 0:
            path.append(names[node])
        node = following[node]
    if cost is not None:
        ahead = _longest_sampled_path(plan, cost, finished)
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


PREDICTION_QUANTILE = 0.4
"""Which quantile of the sampled remaining times is the prediction. Below the median because an
over-prediction can be off by any multiple of the remaining time and an under-prediction by at
most all of it; 0.4 had the smallest median and P90 error as a share of the remaining time in
``bench/ai_eta.py`` (seed 14; checked on seeds 15 and 16: 0.5 and 0.35 did worse on some point)."""
_SEED = 14
_POOL = 1024
_MIN_BEYOND = 16


def _median_costs(
    names: Sequence[str],
    durations: Mapping[str, float],
    *,
    now: float,
    finished: frozenset[str] | set[str],
    running: Mapping[str, float],
) -> list[float]:
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
    return cost


def _sampled_costs(
    plan: ExecutionPlan,
    model: DurationModel,
    *,
    now: float,
    finished: frozenset[str] | set[str],
    running: Mapping[str, float],
    ended: Mapping[str, tuple[float, float]] | None,
) -> tuple[list[float], np.ndarray]:
    """Per task: its median cost (for the path) and :data:`SAMPLES` drawn costs (a row each)."""
    names = plan.names
    rng = np.random.default_rng(_SEED)
    shift = model.run_shift(ended or {})
    fallback: float | None = None
    cost = np.zeros((len(names), SAMPLES))
    waiting: list[int] = []
    centres: list[float] = []
    draws: list[np.ndarray] = []
    for task_id, name in enumerate(names):
        if name in finished:
            continue
        task = model.tasks.get(name)
        began = running.get(name)
        if task is None:
            if fallback is None:
                known = sorted(other.median(now) for other in model.tasks.values())
                fallback = known[len(known) // 2] if known else 1.0
            elapsed = max(now - began, 0.0) if began is not None else 0.0
            cost[task_id] = max(fallback - elapsed, fallback * 0.1)
        elif began is None:  # the scenarios drawn at fit, at the time of day it is now
            waiting.append(task_id)
            centres.append(task.centre(now) + shift)
            draws.append(task.draws)
        else:  # what is left of it, given that it has run this long already
            elapsed = max(now - began, 0.0)
            pool = np.exp(task.centre(began) + shift + task.draw(rng, _POOL))
            beyond = pool[pool > elapsed] - elapsed
            if len(beyond) < _MIN_BEYOND:  # overrunning all of its history: not about to end, nor known when
                beyond = np.full(SAMPLES, max(float(np.median(pool)) * 0.1, float(pool.max()) - elapsed))
            cost[task_id] = (
                beyond[:SAMPLES] if len(beyond) >= SAMPLES else beyond[rng.integers(0, len(beyond), SAMPLES)]
            )
    if waiting:
        cost[waiting] = np.exp(np.asarray(centres)[:, None] + np.stack(draws))
    medians: list[float] = np.median(cost, axis=1).tolist()
    return medians, cost


def _longest_sampled_path(plan: ExecutionPlan, cost: np.ndarray, finished: frozenset[str] | set[str]) -> float:
    """The :data:`PREDICTION_QUANTILE` over the scenarios of the longest path through unfinished tasks."""
    remaining = cost.copy()
    successors, names = plan.successors, plan.names
    longest: np.ndarray | None = None
    for node in reversed(plan.topological_order):
        if names[node] in finished:  # every successor of an unfinished task is unfinished
            continue
        following = successors[node]
        if following:
            remaining[node] += np.max(remaining[list(following)], axis=0)
        longest = remaining[node] if longest is None else np.maximum(longest, remaining[node])
    return 0.0 if longest is None else float(np.quantile(longest, PREDICTION_QUANTILE))


class RunProgress:
    """What a run has done so far, folded from its events: start, finished and running tasks.

    ``ended``: name -> (first attempt's start, end) of the tasks that succeeded, in epoch seconds.
    """

    def __init__(self) -> None:
        self.started_at: float | None = None
        self.finished: set[str] = set()
        self.running: dict[str, float] = {}
        self.ended: dict[str, tuple[float, float]] = {}
        self._first_start: dict[str, float] = {}
        self.over = False

    def fold(self, event: RunEvent) -> bool:
        """Take one event; True when it changes what is left to do (a run start or a task end)."""
        kind = event.kind
        if kind is EventKind.TASK_STARTED and event.task is not None:
            self.running[event.task] = event.time
            self._first_start.setdefault(event.task, event.time)
        elif kind in _ENDED or (kind is EventKind.TASK_FAILED and event.data.get("final", True)):
            if event.task is not None:
                self.running.pop(event.task, None)
                self.finished.add(event.task)
                began = self._first_start.get(event.task)
                if kind is EventKind.TASK_SUCCEEDED and began is not None:
                    self.ended[event.task] = (began, event.time)
                return True
        elif kind is EventKind.TASK_RETRYING and event.task is not None:
            self.running.pop(event.task, None)
        elif kind is EventKind.RUN_STARTED:
            if self.started_at is None:
                self.started_at = event.time
            return True
        elif kind is EventKind.RUN_FINISHED:
            self.over = True
        return False


class EtaSink(EventSink):
    """Predicts a live run's finish as its tasks end; annotates the run with it and with an SLA warning.

    An ``eta`` annotation is written when the predicted total moves by more than ``min_change``
    (a share) since the last one written, so a run of many small tasks does not write one per
    task; a ``sla_warning`` annotation as soon as a prediction exceeds the workflow's ``sla``
    (once). The UI and ``runs show`` / ``runs watch`` show both like any annotation.

    ``handle`` runs on the runner's thread and a sampled prediction costs about 0.3 ms
    (``bench/ai_eta.py``), so it predicts at most once per ``min_interval`` seconds: a run of
    many tiny tasks pays for a few predictions a second, not one per task. A task end inside
    the interval is not lost; the next batch after it predicts with it.
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        plan: ExecutionPlan,
        durations: Mapping[str, float] | DurationModel,
        *,
        min_change: float = 0.1,
        min_interval: float = 0.05,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._plan = plan
        self._durations = durations if isinstance(durations, DurationModel) else dict(durations)
        self._min_change = min_change
        self._min_interval = min_interval
        self._clock = clock
        self._pending = False
        self._predicted_at = -math.inf
        self._progress = RunProgress()
        self._last_total: float | None = None
        self._warned = False
        self.latest: Prediction | None = None

    def handle(self, events: Sequence[RunEvent]) -> None:
        changed = self._pending
        for event in events:
            if event.run_id == self._run_id:
                changed = self._progress.fold(event) or changed
        started = self._progress.started_at
        known = self._durations.tasks if isinstance(self._durations, DurationModel) else self._durations
        if not changed or started is None or self._progress.over or not known:
            return  # no history, no basis: a guess would raise false SLA warnings
        now = self._clock()
        if now - self._predicted_at < self._min_interval:
            self._pending = True
            return
        self._pending, self._predicted_at = False, now
        prediction = predict_finish(self._plan, self._durations, started_at=started, now=now,
                                    finished=self._progress.finished, running=self._progress.running,
                                    ended=self._progress.ended)  # fmt: skip
        self.latest = prediction
        last = self._last_total
        if last is None or abs(prediction.total - last) > self._min_change * max(last, 1e-9):
            self._last_total = prediction.total
            self._store.annotate(self._run_id, Annotation(ETA_KIND, prediction.as_dict(), author=AUTHOR))
        if prediction.misses_sla and not self._warned:
            self._warned = True
            payload = {**prediction.as_dict(), "message": sla_message(prediction)}
            self._store.annotate(self._run_id, Annotation(SLA_KIND, payload, author=AUTHOR))


def sla_message(prediction: Prediction) -> str:
    """The warning in words: "predicted to take 41m 10s; its SLA is 30m"."""
    return (f"predicted to take {_clock_text(prediction.total)} (finish in {_clock_text(prediction.remaining)}); "
            f"its SLA is {_clock_text(prediction.sla or 0.0)}")  # fmt: skip


def _clock_text(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def run_durations(store: Store, plan: ExecutionPlan) -> dict[str, float]:
    """Expected seconds per task: the medians the compile pass put in the plan, else read now."""
    from flowbuilder.compiler import ESTIMATED_DURATIONS_KEY

    known = plan.metadata.get(ESTIMATED_DURATIONS_KEY)
    if isinstance(known, Mapping) and known:
        return {str(k): float(v) for k, v in known.items()}
    from flowbuilder_ai.estimates import HistoryDurations

    return HistoryDurations(lambda: store).durations(plan.workflow.name)


def run_model(store: Store, plan: ExecutionPlan, runs: int = HISTORY_RUNS) -> DurationModel:
    """The sink's model: :meth:`DurationModel.fit` on the workflow's last ``runs`` runs.

    Empty (so no prediction) when the workflow has fewer than
    :data:`~flowbuilder_ai.duration_model.MIN_RUNS` runs (answered without importing Polars)
    or its history cannot be read: a run never fails because of its history.
    """
    from flowbuilder_ai.duration_model import MIN_RUNS

    try:
        listed = store.list_runs(workflow=plan.workflow.name, limit=runs).runs
        if len(listed) < MIN_RUNS:
            return DurationModel({})
        from flowbuilder_ai.history import load_attempts

        return DurationModel.fit(load_attempts(store, run_ids=[summary.run_id for summary in listed]))
    except Exception:
        return DurationModel({})


def predict_run(store: Store, run_id: str, plan: ExecutionPlan, durations: Mapping[str, float] | DurationModel,
                now: float | None = None) -> Prediction | None:  # fmt: skip
    """The prediction for a stored run (live or not) from its events: what the REST API and UI call.

    None when the run has not started, or has finished (its end is known, not predicted).
    """
    progress = RunProgress()
    for event in store.read_events(run_id):
        progress.fold(event)
    if progress.started_at is None or progress.over:
        return None
    return predict_finish(plan, durations, started_at=progress.started_at, now=time.time() if now is None else now,
                          finished=progress.finished, running=progress.running, ended=progress.ended)  # fmt: skip


__all__ = [
    "ETA_KIND",
    "SLA_KIND",
    "EtaSink",
    "PREDICTION_QUANTILE",
    "Prediction",
    "RunProgress",
    "predict_finish",
    "predict_run",
    "run_durations",
    "run_model",
    "sla_message",
]
