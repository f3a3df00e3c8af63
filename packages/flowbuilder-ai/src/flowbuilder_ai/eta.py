"""Predicted finish of a live run: the longest path of work still ahead, in measured seconds.

Why the remaining critical path and not "mean total minus elapsed": a run that is slow early
(or whose slow branch has already finished) is told apart, and the prediction tightens as tasks
finish. It ignores concurrency limits (a pool of one makes a run longer than its path): the
evaluation in ``bench/ai_eta.py`` measures how much that costs against the naive floor.

Plain Python over the plan's flat lists: called once per finished task, never per event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from flowbuilder.annotations import Annotation
from flowbuilder.events import EventKind
from flowbuilder.interfaces import EventSink

if TYPE_CHECKING:
    from flowbuilder.events import RunEvent
    from flowbuilder.interfaces import Store
    from flowbuilder.plan import ExecutionPlan

ETA_KIND = "eta"
"""Annotation kind of a prediction (payload: :meth:`Prediction.as_dict`)."""
SLA_KIND = "sla_warning"
"""Annotation kind of the warning that a run will miss its workflow's ``sla`` (written once per run)."""
AUTHOR = "flowbuilder-ai"
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


class RunProgress:
    """What a run has done so far, folded from its events: start, finished and running tasks."""

    def __init__(self) -> None:
        self.started_at: float | None = None
        self.finished: set[str] = set()
        self.running: dict[str, float] = {}
        self.over = False

    def fold(self, event: RunEvent) -> bool:
        """Take one event; True when it changes what is left to do (a run start or a task end)."""
        kind = event.kind
        if kind is EventKind.TASK_STARTED and event.task is not None:
            self.running[event.task] = event.time
        elif kind in _ENDED or (kind is EventKind.TASK_FAILED and event.data.get("final", True)):
            if event.task is not None:
                self.running.pop(event.task, None)
                self.finished.add(event.task)
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
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        plan: ExecutionPlan,
        durations: Mapping[str, float],
        *,
        min_change: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._plan = plan
        self._durations = dict(durations)
        self._min_change = min_change
        self._clock = clock
        self._progress = RunProgress()
        self._last_total: float | None = None
        self._warned = False
        self.latest: Prediction | None = None

    def handle(self, events: Sequence[RunEvent]) -> None:
        changed = False
        for event in events:
            if event.run_id == self._run_id:
                changed = self._progress.fold(event) or changed
        started = self._progress.started_at
        if not changed or started is None or self._progress.over or not self._durations:
            return  # no history, no basis: a guess would raise false SLA warnings
        prediction = predict_finish(self._plan, self._durations, started_at=started, now=self._clock(),
                                    finished=self._progress.finished, running=self._progress.running)  # fmt: skip
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


def predict_run(store: Store, run_id: str, plan: ExecutionPlan, durations: Mapping[str, float],
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
                          finished=progress.finished, running=progress.running)  # fmt: skip


__all__ = [
    "ETA_KIND",
    "SLA_KIND",
    "EtaSink",
    "Prediction",
    "RunProgress",
    "predict_finish",
    "predict_run",
    "run_durations",
    "sla_message",
]
