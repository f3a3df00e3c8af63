"""Folding run events into state: what a resumed run's ``run_started`` means for its tasks."""

from __future__ import annotations

from flowbuilder.events import EventKind, RunEvent, TaskStatus, fold_events


def test_a_resumed_run_restarts_the_clock_of_the_tasks_it_runs_again_and_keeps_the_finished_ones() -> None:
    """Tasks not succeeded before the resume are timed from their re-run, so downtime is not their time."""
    events = [
        RunEvent("r", 1, EventKind.RUN_CREATED, time=100.0),
        RunEvent("r", 2, EventKind.RUN_STARTED, data={"resumed": False}, time=100.0),
        RunEvent("r", 3, EventKind.TASK_STARTED, task="done", attempt=1, time=101.0),
        RunEvent("r", 4, EventKind.TASK_SUCCEEDED, task="done", attempt=1, time=102.0),
        RunEvent("r", 5, EventKind.TASK_STARTED, task="cut", attempt=1, time=103.0),
        RunEvent("r", 6, EventKind.RUN_STARTED, data={"resumed": True}, time=500.0),
        RunEvent("r", 7, EventKind.TASK_STARTED, task="cut", attempt=2, time=500.5),
        RunEvent("r", 8, EventKind.TASK_SUCCEEDED, task="cut", attempt=2, time=502.0),
    ]
    state = fold_events("r", events)
    cut, done = state.tasks["cut"], state.tasks["done"]
    assert (cut.status, cut.attempts, cut.started_at, cut.finished_at) == (TaskStatus.SUCCEEDED, 2, 500.5, 502.0)
    assert (done.started_at, done.finished_at) == (101.0, 102.0)


def test_a_first_run_started_leaves_task_times_alone() -> None:
    events = [
        RunEvent("r", 1, EventKind.TASK_STARTED, task="a", attempt=1, time=1.0),
        RunEvent("r", 2, EventKind.RUN_STARTED, data={"resumed": False}, time=2.0),
    ]
    assert fold_events("r", events).tasks["a"].started_at == 1.0
