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


def _waiting_history() -> list[RunEvent]:
    signalled = {"request": 1, "name": "go", "payload": True, "by": "mallory"}
    return [
        RunEvent("r", 1, EventKind.RUN_STARTED, data={"resumed": False}, time=1.0),
        RunEvent("r", 2, EventKind.TASK_STARTED, task="gate", attempt=1, time=2.0),
        RunEvent("r", 3, EventKind.TASK_WAITING, task="gate", attempt=1, data={"until": 90.0, "signal": "go"}),
        RunEvent("r", 4, EventKind.RUN_SIGNALLED, data=signalled),
        RunEvent(
            "r",
            5,
            EventKind.TASK_SIGNAL_REFUSED,
            task="gate",
            attempt=1,
            data={"signal_request": 1, "by": "mallory", "reason": "not an approver"},
        ),
        RunEvent("r", 6, EventKind.RUN_SIGNALLED, data={**signalled, "request": 2, "by": "early"}),
    ]


def test_a_waiting_task_keeps_its_wait_across_a_resume_until_it_ends() -> None:
    """The recorded `until` outlives a restart (the resumed run waits only for the time left)."""
    events = _waiting_history()
    events += [
        RunEvent("r", 7, EventKind.RUN_STARTED, data={"resumed": True}, time=50.0),
        RunEvent("r", 8, EventKind.TASK_STARTED, task="gate", attempt=2, time=50.0),
    ]
    gate = fold_events("r", events).tasks["gate"]
    assert gate.status is TaskStatus.RUNNING and gate.waiting is not None and gate.waiting["until"] == 90.0
    assert gate.waiting["refused"] == [{"by": "mallory", "reason": "not an approver"}]
    events.append(RunEvent("r", 9, EventKind.TASK_SUCCEEDED, task="gate", attempt=2, data={"signal_request": 2}))
    assert fold_events("r", events).tasks["gate"].waiting is None


def test_signals_no_task_took_are_kept_and_taking_one_removes_it() -> None:
    events = _waiting_history()
    state = fold_events("r", events)
    assert [signal["request"] for signal in state.signals] == [2]  # 1 was refused: taken
    assert state.tasks["gate"].status is TaskStatus.WAITING
    events.append(RunEvent("r", 7, EventKind.TASK_FAILED, task="gate", attempt=1, data={"signal_request": 2}))
    state = fold_events("r", events)
    assert state.signals == [] and "signals" not in state.to_dict()


def test_a_snapshot_keeps_waits_and_signals() -> None:
    from flowbuilder.events import RunState

    state = fold_events("r", _waiting_history())
    again = RunState.from_dict(state.to_dict())
    assert again.signals == state.signals and again.tasks["gate"].waiting == state.tasks["gate"].waiting


def test_a_flood_of_signals_nobody_takes_keeps_only_the_newest() -> None:
    from flowbuilder.events import MAX_UNTAKEN_SIGNALS

    flood = [RunEvent("r", seq, EventKind.RUN_SIGNALLED, data={"request": seq, "name": "spam"})
             for seq in range(1, MAX_UNTAKEN_SIGNALS + 11)]  # fmt: skip
    signals = fold_events("r", flood).signals
    assert len(signals) == MAX_UNTAKEN_SIGNALS and signals[0]["request"] == 11
