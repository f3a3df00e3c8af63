# ruff: noqa: F811 - the pytest fixtures imported from flowbuilder.testing are parameters here
"""The ETA's duration model (flowbuilder_ai.duration_model) and the sampled prediction built on it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.plan import ExecutionPlan
from flowbuilder.stores.memory import MemoryStore
from flowbuilder.testing import compile_yaml, memory_store, plugin_host, run_workflow  # noqa: F401 - pytest fixtures
from flowbuilder_ai.duration_model import DurationModel
from flowbuilder_ai.eta import EtaSink, RunProgress, predict_finish, run_model
from flowbuilder_ai.history import ATTEMPT_SCHEMA

MIDNIGHT = 1_750_032_000.0  # a UTC midnight
DAY = 86400.0


@pytest.fixture
def flowbuilder_plugin_names() -> tuple[str, ...]:
    return ("core", "flowrunner")


def attempts(runs: list[dict[str, tuple[float, float]]]) -> pl.DataFrame:
    """Attempt rows from ``[{task: (started, seconds)}]``, one dict per run, every attempt a success."""
    rows = [
        {"run_id": f"r{i:04d}", "workflow": "w", "task": task, "attempt": 1, "status": "succeeded",
         "error_class": "", "started_at": start, "finished_at": start + seconds, "duration": seconds,
         "queue_wait": 0.0, "output_size": 0, "exit_code": 0, "upstream": []}
        for i, run in enumerate(runs) for task, (start, seconds) in run.items()
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=ATTEMPT_SCHEMA)


def test_a_daily_cycle_in_the_history_is_predicted_and_no_cycle_is_invented() -> None:
    rng = np.random.default_rng(1)
    runs = []
    for day in range(60):
        start = MIDNIGHT + day * DAY + rng.uniform(0, DAY)
        busy = 1 + 0.5 * math.sin((start % DAY) / DAY * 2 * math.pi)  # slowest at 06:00 UTC
        runs.append(
            {"cyclic": (start, 10 * busy * rng.lognormal(0, 0.05)), "flat": (start, 10 * rng.lognormal(0, 0.3))}
        )
    model = DurationModel.fit(attempts(runs))
    at_six, at_eighteen = MIDNIGHT + 6 * 3600, MIDNIGHT + 18 * 3600
    assert model.tasks["cyclic"].median(at_six) > 12 and model.tasks["cyclic"].median(at_eighteen) < 7
    assert model.tasks["flat"].cos == model.tasks["flat"].sin == 0.0
    assert model.tasks["flat"].median(at_six) == model.tasks["flat"].median(at_eighteen)


WIDE = "name: wide\ntasks:\n" + "".join(
    f"  - {{name: p{i}, type: shell, config: {{command: 'true'}}}}\n" for i in range(10)
)


def noisy_history(runs: int = 40, shared: float = 0.0, seed: int = 2) -> pl.DataFrame:
    """Ten independent tasks of median 10 s, log-normal (sigma 0.4), times a factor the whole run shares."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(runs):
        start, factor = MIDNIGHT + r * DAY, rng.lognormal(0, shared) if shared else 1.0
        rows.append({f"p{i}": (start, 10 * factor * rng.lognormal(0, 0.4)) for i in range(10)})
    return attempts(rows)


def test_the_longest_of_noisy_parallel_paths_is_predicted_longer_than_their_medians(compile_yaml: Any) -> None:
    plan: ExecutionPlan = compile_yaml(WIDE)
    history = noisy_history()
    model = DurationModel.fit(history)
    medians = {name: task.median(MIDNIGHT) for name, task in model.tasks.items()}
    kwargs: dict[str, Any] = {"started_at": MIDNIGHT, "now": MIDNIGHT, "finished": set(), "running": {}}
    by_medians = predict_finish(plan, medians, **kwargs).remaining
    sampled = predict_finish(plan, model, **kwargs)
    assert sampled.remaining > 1.3 * by_medians  # the slowest of ten, not the typical one
    assert predict_finish(plan, model, **kwargs) == sampled  # seeded: the same inputs, the same answer


def test_a_running_task_is_given_what_its_history_says_is_left(compile_yaml: Any) -> None:
    plan: ExecutionPlan = compile_yaml(WIDE)
    model = DurationModel.fit(noisy_history())
    done = {f"p{i}" for i in range(1, 10)}
    fresh = predict_finish(plan, model, started_at=MIDNIGHT, now=MIDNIGHT, finished=done, running={"p0": MIDNIGHT})
    halfway = predict_finish(plan, model, started_at=MIDNIGHT, now=MIDNIGHT + 10, finished=done,
                             running={"p0": MIDNIGHT})  # fmt: skip
    late = predict_finish(plan, model, started_at=MIDNIGHT, now=MIDNIGHT + 30, finished=done, running={"p0": MIDNIGHT})
    assert 6 < fresh.remaining < 14  # about its median of 10 s
    assert 1.5 < halfway.remaining < 6  # at its median: about what the slower half of its history took beyond it
    assert 0 < late.remaining < 30  # past nearly all its history: not over, but not another full run
    assert late.total > fresh.total  # having run long already, it ends later than a fresh start would


def test_a_slow_start_scales_the_rest_only_when_runs_of_the_history_moved_together(compile_yaml: Any) -> None:
    plan: ExecutionPlan = compile_yaml(WIDE)
    now = MIDNIGHT + 100
    running = {"p9": now}
    slow = {f"p{i}": (MIDNIGHT, MIDNIGHT + 30.0) for i in range(9)}  # nine tasks took 3x their median
    typical = {f"p{i}": (MIDNIGHT, MIDNIGHT + 10.0) for i in range(9)}
    together = DurationModel.fit(noisy_history(shared=0.5))
    apart = DurationModel.fit(noisy_history(shared=0.0))
    assert together.run_spread > 0.25 and apart.run_spread < 0.1
    assert together.run_shift(slow) > math.log(2)  # nearly the full 3x: nine tasks agree
    assert abs(apart.run_shift(slow)) < 0.2

    def remaining(model: DurationModel, ended: dict[str, tuple[float, float]]) -> float:
        return predict_finish(plan, model, started_at=MIDNIGHT, now=now, finished=set(ended), running=running,
                              ended=ended).remaining  # fmt: skip

    assert remaining(together, slow) > 2 * remaining(together, typical)
    assert remaining(apart, slow) == pytest.approx(remaining(apart, typical), rel=0.25)


def test_a_retried_task_ended_counts_from_its_first_attempt() -> None:
    progress = RunProgress()
    events = [
        RunEvent("r", 1, EventKind.RUN_STARTED, time=100.0),
        RunEvent("r", 2, EventKind.TASK_STARTED, "a", 1, time=101.0),
        RunEvent("r", 3, EventKind.TASK_RETRYING, "a", 1, time=103.0),
        RunEvent("r", 4, EventKind.TASK_STARTED, "a", 2, time=108.0),
        RunEvent("r", 5, EventKind.TASK_SUCCEEDED, "a", 2, time=110.0),
    ]
    for event in events:
        progress.fold(event)
    assert progress.ended == {"a": (101.0, 110.0)} and progress.finished == {"a"}


def test_the_sink_model_needs_three_runs_and_never_fails_a_run(
    memory_store: MemoryStore, compile_yaml: Any, run_workflow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan: ExecutionPlan = compile_yaml(
        "name: modelled\ntasks:\n  - {name: a, type: shell, config: {command: 'true'}}\n"
    )
    for _ in range(2):
        run_workflow(plan)
    assert run_model(memory_store, plan).tasks == {}
    run_workflow(plan)
    assert set(run_model(memory_store, plan).tasks) == {"a"}

    def unreadable(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk gone")

    monkeypatch.setattr(memory_store, "export_events", unreadable)
    assert run_model(memory_store, plan).tasks == {}


class Annotations:
    """A store that only keeps annotations (all the sink writes)."""

    def __init__(self) -> None:
        self.written: list[Any] = []

    def annotate(self, run_id: str, annotation: Any) -> None:
        self.written.append(annotation)


def test_the_sink_predicts_at_most_once_per_interval_and_keeps_what_it_skipped(compile_yaml: Any) -> None:
    plan: ExecutionPlan = compile_yaml(WIDE)
    clock = [MIDNIGHT]
    history = attempts([{f"p{i}": (MIDNIGHT - r * DAY, (100.0 if i == 0 else 10.0) + r % 3) for i in range(10)}
                        for r in range(5)])  # fmt: skip
    sink = EtaSink(Annotations(), "r", plan, DurationModel.fit(history),  # type: ignore[arg-type]
                   min_interval=0.05, clock=lambda: clock[0])  # fmt: skip

    def end(seq: int, task: str, at: float) -> None:
        clock[0] = at
        sink.handle([RunEvent("r", seq, EventKind.TASK_STARTED, task, 1, time=MIDNIGHT),
                     RunEvent("r", seq + 1, EventKind.TASK_SUCCEEDED, task, 1, time=at)])  # fmt: skip

    sink.handle([RunEvent("r", 1, EventKind.RUN_STARTED, time=MIDNIGHT)])
    first = sink.latest
    assert first is not None and first.path == ("p0",)
    end(2, "p0", MIDNIGHT + 0.01)  # within the interval: no new prediction
    assert sink.latest is first
    clock[0] = MIDNIGHT + 0.2
    sink.handle([RunEvent("r", 4, EventKind.TASK_STARTED, "p1", 1, time=MIDNIGHT + 0.2)])  # ends nothing itself
    assert sink.latest is not first and sink.latest.path != ("p0",)  # the skipped end counts now
