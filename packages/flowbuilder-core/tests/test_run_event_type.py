"""``RunEvent``'s public surface, kept when it became a ``msgspec.Struct``: construction by
position and keyword in the same order with the same defaults, equality, repr, pickling, and
the stored form (``encode_event``'s bytes, unchanged for events written by earlier releases)."""

from __future__ import annotations

import copy
import gc
import pickle
import time

import msgspec
import pytest

from flowbuilder.events import EventKind, PlainRunEvent, RunEvent, decode_event, encode_event, fold_events


def test_positional_and_keyword_construction_take_the_same_fields_in_the_same_order() -> None:
    by_position = RunEvent("r", 3, EventKind.TASK_SUCCEEDED, "t", 2, {"output": 1}, 10.5)
    by_keyword = RunEvent(run_id="r", seq=3, kind=EventKind.TASK_SUCCEEDED, task="t", attempt=2,
                          data={"output": 1}, time=10.5)  # fmt: skip
    assert by_position == by_keyword
    assert (by_position.run_id, by_position.seq, by_position.kind, by_position.task, by_position.attempt,
            by_position.data, by_position.time) == ("r", 3, EventKind.TASK_SUCCEEDED, "t", 2, {"output": 1}, 10.5)  # fmt: skip
    assert RunEvent.__match_args__ == ("run_id", "seq", "kind", "task", "attempt", "data", "time")


def test_defaults_are_no_task_attempt_zero_a_fresh_empty_mapping_and_the_current_time() -> None:
    before = time.time()
    first, second = RunEvent("r", 1, EventKind.RUN_CREATED), RunEvent("r", 2, EventKind.RUN_STARTED)
    assert (first.task, first.attempt, first.data) == (None, 0, {})
    assert first.data is not second.data  # not one shared default
    assert before <= first.time <= second.time <= time.time()
    with pytest.raises(TypeError):
        RunEvent("r", 1)  # type: ignore[call-arg]


def test_equality_repr_copies_and_pickles_behave_as_the_dataclass_did() -> None:
    event = RunEvent("r", 1, EventKind.TASK_STARTED, "t", 1, {"type": "python"}, 1.5)
    assert event == RunEvent("r", 1, EventKind.TASK_STARTED, "t", 1, {"type": "python"}, 1.5)
    assert event != RunEvent("r", 1, EventKind.TASK_STARTED, "t", 1, {"type": "python"}, 1.6)
    assert repr(event) == ("RunEvent(run_id='r', seq=1, kind=<EventKind.TASK_STARTED: 'task_started'>, "
                           "task='t', attempt=1, data={'type': 'python'}, time=1.5)")  # fmt: skip
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):  # events cross processes (sinks, workers)
        again = pickle.loads(pickle.dumps(event, protocol))
        assert again == event and type(again) is RunEvent and again.kind is EventKind.TASK_STARTED
    assert copy.copy(event) == event and copy.deepcopy(event) == event
    with pytest.raises(TypeError):
        hash(event)  # as a non-frozen dataclass: not hashable
    assert msgspec.structs.replace(event, seq=9).seq == 9 and event.seq == 1


def test_the_runner_may_replace_data_before_storing_a_batch() -> None:
    """The event writer masks secrets by assigning ``data``: events must not be frozen."""
    event = RunEvent("r", 1, EventKind.TASK_SUCCEEDED, "t", 1, {"output": "s3cret"}, 1.0)
    event.data = {"output": "***"}
    assert event.data == {"output": "***"}


def test_events_are_tracked_by_the_cycle_collector_and_plain_ones_are_not() -> None:
    """A ``RunEvent``'s data may lead back to it (a task's output): the collector must see it.
    A ``PlainRunEvent`` (plain data only) is not walked by the collector, and is otherwise
    the same event: equal, shown and pickled as the ``RunEvent`` with its fields."""
    fields = ("r", 1, EventKind.TASK_SUCCEEDED, "t", 1, {"output": None, "duration": 0.5}, 1.0)
    tracked, plain = RunEvent(*fields), PlainRunEvent(*fields)
    assert gc.is_tracked(tracked) and not gc.is_tracked(plain)
    assert tracked == plain and plain == tracked
    assert (tracked != plain, plain != tracked) == (False, False)  # __ne__ as well as __eq__
    assert plain != PlainRunEvent(*fields[:-1], 2.0) and plain != fields
    assert repr(plain) == repr(tracked) and isinstance(plain, RunEvent)
    again = pickle.loads(pickle.dumps(plain))
    assert type(again) is RunEvent and again == plain


def test_the_stored_form_is_unchanged() -> None:
    """The bytes an earlier release wrote, byte for byte, and read back to the same event."""
    event = RunEvent("r", 7, EventKind.TASK_SUCCEEDED, "t", 2, {"output": [1, "é"], "duration": 0.25}, 1700000000.5)
    stored = (
        b'{"s":7,"k":"task_succeeded","t":1700000000.5,"n":"t","a":2,"d":{"output":[1,"\xc3\xa9"],"duration":0.25}}'
    )
    assert encode_event(event) == stored
    assert decode_event("r", stored) == event
    bare = RunEvent("r", 1, EventKind.RUN_CREATED, time=2.0)
    assert encode_event(bare) == b'{"s":1,"k":"run_created","t":2.0}'
    assert decode_event("r", b'{"s":1,"k":"run_created","t":2.0}') == bare
    assert fold_events("r", [bare]).created_at == 2.0


def test_encode_event_stores_what_json_cannot_hold_as_a_readable_copy() -> None:
    """Keys JSON has no form for become their repr, a cycle and a value nested past the copy's
    depth become markers: the event is stored (a store's batch never fails on it), and a
    lone surrogate, which UTF-8 cannot hold, is stored as U+FFFD."""
    from flowbuilder.events import MAX_STORABLE_DEPTH, decode_event, encode_event

    looped: list[object] = [1]
    looped.append(looped)
    deep: list[object] = []
    inner = deep
    for _ in range(MAX_STORABLE_DEPTH + 10):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    data = {"pairs": {(1, 2): "x", frozenset({3}): [1]}, "looped": looped, "deep": deep}
    event = RunEvent("run", 1, EventKind.TASK_SUCCEEDED, task="t", data=data)
    stored = decode_event("run", encode_event(event)).data
    assert stored["pairs"] == {"(1, 2)": "x", "frozenset({3})": [1]}
    assert stored["looped"] == [1, "<cycle>"]
    depth, value = 0, stored["deep"]
    while isinstance(value, list) and value:
        depth, value = depth + 1, value[0]
    assert value == "<too deep>" and depth < MAX_STORABLE_DEPTH  # counted from the stored record
    lone = RunEvent("run", 2, EventKind.TASK_SUCCEEDED, task="t\udc80", data={"output": "a\ud800b", "k\udfff": 1})
    stored_lone = decode_event("run", encode_event(lone))
    assert stored_lone.task == "t\ufffd" and stored_lone.data == {"output": "a\ufffdb", "k\ufffd": 1}
