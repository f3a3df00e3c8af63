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


def _item_events() -> list[RunEvent]:
    def item(seq: int, kind: EventKind, attempt: int, data: dict[str, object], at: float) -> RunEvent:
        return RunEvent("r", seq, kind, task="each", attempt=attempt, data=data, time=at)

    return [
        RunEvent("r", 1, EventKind.TASK_STARTED, task="each", attempt=1, time=1.0),
        item(2, EventKind.ITEM_STARTED, 1, {"item": 0, "key": "k0"}, 1.0),
        item(3, EventKind.ITEM_STARTED, 1, {"item": 1, "key": "k1"}, 1.0),
        item(4, EventKind.ITEM_STARTED, 1, {"item": 2, "key": "k2"}, 1.0),
        item(5, EventKind.ITEM_SUCCEEDED, 1, {"item": 0, "output": "zero", "duration": 1.0}, 2.0),
        item(6, EventKind.ITEM_FAILED, 1, {"item": 1, "error": "boom", "final": False}, 2.0),
        item(7, EventKind.ITEM_STARTED, 2, {"item": 1, "key": "k1"}, 3.0),
        item(8, EventKind.ITEM_FAILED, 2, {"item": 1, "error": "boom again", "final": True}, 4.0),
        item(9, EventKind.ITEM_CANCELLED, 1, {"item": 2}, 4.0),
    ]


def test_item_events_fold_into_the_items_of_their_task() -> None:
    state = fold_events("r", _item_events())
    items = state.tasks["each"].items
    assert items is not None and sorted(items) == [0, 1, 2]
    assert (items[0].status, items[0].output, items[0].key, items[0].finished_at) == (
        TaskStatus.SUCCEEDED, "zero", "k0", 2.0)  # fmt: skip
    assert (items[1].status, items[1].attempts, items[1].error) == (TaskStatus.FAILED, 2, "boom again")
    assert items[1].started_at == 1.0  # a retry of the item keeps its first start
    assert items[2].status is TaskStatus.CANCELLED


def test_an_item_still_to_retry_reads_retrying() -> None:
    state = fold_events("r", _item_events()[:6])
    items = state.tasks["each"].items
    assert items is not None and items[1].status is TaskStatus.RETRYING


def test_a_snapshot_keeps_the_items_and_a_task_without_items_has_none() -> None:
    from flowbuilder.events import RunState

    events = [*_item_events(), RunEvent("r", 10, EventKind.TASK_STARTED, task="plain", attempt=1, time=5.0)]
    state = fold_events("r", events)
    again = RunState.from_dict(state.to_dict())
    assert again.tasks["each"].items == state.tasks["each"].items
    assert again.tasks["plain"].items is None and "items" not in state.tasks["plain"].to_dict()
