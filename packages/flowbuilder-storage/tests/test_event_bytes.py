"""The fast event encoder stores exactly what core's ``encode_event`` stores: the same record,
decoding to the same values (bytes may differ only in how a float is spelled)."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import random
import uuid
from typing import Any

import msgspec
import pytest

from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, PlainRunEvent, RunEvent, decode_event, encode_event
from flowbuilder_storage._event_bytes import decode_events, event_bytes, event_values, events_bytes, split_value

TEXTS = [
    "",
    "plain",
    "naïve café",
    "日本語 ✓ 🚀",
    'quote " and \\ backslash',
    "ctl \x00\x01\x1f\x7f\b\f\n\t",
    "\u2028\u2029",
    "\ud800",
]


@dataclasses.dataclass
class Point:
    x: int


def random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12 if depth < 3 else 7)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randint(-(2**70), 2**70)
    if choice == 3:
        return rng.choice([0.0, -0.0, 1e-7, 1.2e-6, 1e16, 1.5e300, rng.random() * 1e6, float("nan"), float("inf")])
    if choice == 4:
        return rng.choice(TEXTS)
    if choice == 5:
        return rng.choice([b"bytes", EventKind.TASK_STARTED, 3 + 4j, Point(1), uuid.UUID(int=7),
                           datetime.date(2026, 1, 2), decimal.Decimal("1.5")])  # fmt: skip
    if choice == 6:
        return rng.choice([(1, "a"), frozenset(), {1: "int key"}])
    if choice in (7, 8):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(TEXTS): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def same_json(left: bytes, right: bytes) -> bool:
    """Equal JSON values, strictly: ``repr`` tells NaN, -0.0, 1 and 1.0 apart (``==`` would not)."""
    return repr(json.loads(left)) == repr(json.loads(right))


def test_event_bytes_store_what_core_stores_for_varied_events() -> None:
    rng = random.Random(42)
    for _ in range(3000):
        event = RunEvent(
            "run",
            rng.randint(1, 10**12),
            rng.choice(list(EventKind)),
            task=rng.choice([None, *TEXTS]),
            attempt=rng.choice([0, 1, 7]),
            data={} if rng.random() < 0.3 else {"output": random_value(rng), "duration": rng.random()},
            time=rng.choice([rng.random() * 2e9, 5, 1e16, float("inf")]),
        )
        expected = encode_event(event)  # a lone surrogate is stored as U+FFFD by both
        assert same_json(event_bytes(event), expected), event


def test_values_msgspec_would_store_differently_are_stored_as_core_stores_them() -> None:
    """NaN and infinities, bytes, dataclasses, UUIDs, dates and decimals keep core's form
    (msgspec alone writes null, base64, objects and ISO strings)."""
    for value in [float("nan"), float("-inf"), b"\xffbytes", Point(1), uuid.UUID(int=7), datetime.date(2026, 1, 2),
                  decimal.Decimal("1.5"), {1: "int key"}, [{"deep": float("nan")}], ("t", float("inf"))]:  # fmt: skip
        event = RunEvent("run", 3, EventKind.TASK_SUCCEEDED, "t", 1, {"output": value}, 1.5)
        assert event_bytes(event) == encode_event(event), value
    odd_time = RunEvent("run", 3, EventKind.TASK_STARTED, "t", 1, {}, float("nan"))
    assert event_bytes(odd_time) == encode_event(odd_time)


def test_plain_events_are_read_back_as_the_same_events() -> None:
    events = [
        RunEvent("run", 1, EventKind.RUN_CREATED, data={"workflow": "w", "params": {"n": [1, 2.5, None]}}, time=1.0),
        RunEvent("run", 2, EventKind.TASK_STARTED, "t0", 1, {"type": "python"}, 1764970000.123456),
        RunEvent("run", 3, EventKind.TASK_SUCCEEDED, "t0", 1, {"output": None, "duration": 1.2e-6}, 1e16),
        RunEvent("run", 4, EventKind.TASK_SKIPPED, "t1", 0, {"reason": "naïve ✓"}, 7),
    ]
    assert [decode_event("run", raw) for raw in events_bytes(events)] == events


def test_a_circular_value_is_stored_as_core_stores_it_and_leaves_the_encoder_usable() -> None:
    """The nesting limit hands a cycle to core, which stores the cycle as a marker (instead of
    a RecursionError, or an error that would stop the run that recorded it)."""
    looped: dict[str, Any] = {}
    looped["self"] = looped
    event = RunEvent("run", 1, EventKind.TASK_ANNOTATED, data={"x": looped})
    assert event_bytes(event) == encode_event(event)
    assert decode_event("run", event_bytes(event)).data == {"x": {"self": "<cycle>"}}
    fine = RunEvent("run", 2, EventKind.TASK_ANNOTATED, data={"x": [1, 2]})
    assert event_bytes(fine) == encode_event(fine)


def test_decode_events_reads_what_core_reads_from_either_encoder() -> None:
    """msgspec's reading of every stored form (ours, and core's with NaN, big ints, surrogate
    escapes) equals ``json.loads``'s, value for value."""
    rng = random.Random(7)
    stored: list[bytes] = []
    for seq in range(1, 2001):
        event = RunEvent("run", seq, rng.choice(list(EventKind)), task=rng.choice([None, "t", "naïve"]),
                         attempt=rng.choice([0, 1]), data={"output": random_value(rng), "duration": rng.random()},
                         time=rng.random() * 2e9)  # fmt: skip
        try:
            stored.append(encode_event(event))
            stored.append(event_bytes(event))
        except UnicodeEncodeError:
            continue
    stored.append(b'{"s":1,"k":"task_succeeded","t":1.5,"d":{"x":"\\ud800"}}')  # a lone surrogate escape
    read = decode_events("run", stored)
    assert len(read) == len(stored)
    for raw, event in zip(stored, read, strict=True):
        assert repr(event) == repr(decode_event("run", raw)), raw


def test_decode_events_names_what_core_could_not_read_in_one_line() -> None:
    """A record core cannot read either (a kind of a newer release, damaged bytes) is the
    store's one-line error with core's reason, not a bare ValueError (exit 70 on the CLI)."""
    with pytest.raises(StoreError, match=r"^an event of run run cannot be read \(ValueError: .*not_a_kind"):
        decode_events("run", [b'{"s":1,"k":"not_a_kind","t":1.0}'])
    with pytest.raises(StoreError, match=r"^an event of run run cannot be read \(JSONDecodeError: "):
        decode_events("run", [b'{"s":1,'])
    with pytest.raises(StoreError, match=r"\(KeyError: 's'\)"):
        decode_events("run", [b'{"k":"run_created","t":1.0}'])


WRONG_SHAPES = [b'{"s":2,"k":"run_started","t":1.0,"d":[1]}', b'{"s":2,"k":"run_started","t":1.0,"d":"x"}',
                b'{"s":"2","k":"run_started","t":1.0}', b'{"s":2,"k":"run_started","t":"x"}',
                b'{"s":true,"k":"run_started","t":1.0}', b'{"s":2,"k":"run_started","t":null}',
                b'{"s":2,"k":"run_started","t":NaN,"d":[1]}']  # fmt: skip
"""Events of the wrong shape were read, then replaying the run (`runs show`, `resume`) met them
as a bare AttributeError/TypeError/ValueError: exit 70."""


@pytest.mark.parametrize("raw", WRONG_SHAPES, ids=range(len(WRONG_SHAPES)))
def test_an_event_of_the_wrong_shape_is_one_line(raw: bytes) -> None:
    good = b'{"s":1,"k":"run_created","t":1.0,"d":{"workflow":"w"}}'
    with pytest.raises(StoreError, match=r"^an event of run run cannot be read \(TypeError: event .* is not an event"):
        decode_events("run", [good, raw])
    with pytest.raises(TypeError, match="is not an event"):
        decode_event("run", raw)
    assert decode_events("run", [good, b'{"s":2,"k":"run_started","t":2}'])[1].time == 2  # a whole-number time reads


def test_a_batch_stores_each_event_as_it_would_alone() -> None:
    """One call per batch: a mapping shared by many events (the runner's ``task_started`` data)
    is checked once, and an event after it with a value msgspec would store differently (NaN,
    bytes) still gets core's form."""
    shared = {"type": "python"}
    batch = [
        RunEvent("run", 1, EventKind.TASK_STARTED, "a", 1, shared, 1.5),
        RunEvent("run", 2, EventKind.TASK_STARTED, "b", 1, shared, 1.6),
        RunEvent("run", 3, EventKind.TASK_STARTED, "c", 1, {"type": float("nan")}, 1.7),
        RunEvent("run", 4, EventKind.TASK_STARTED, "d", 1, shared, 1.8),
        RunEvent("run", 5, EventKind.TASK_SUCCEEDED, "a", 1, {"output": b"raw", "duration": 0.5}, 1.9),
        RunEvent("run", 6, EventKind.TASK_SUCCEEDED, "b", 1, {"output": None, "duration": 0.5}, 2.0),
    ]
    rng = random.Random(3)
    for seq in range(7, 400):
        data = shared if rng.random() < 0.3 else {"output": random_value(rng), "duration": rng.random()}
        batch.append(RunEvent("run", seq, rng.choice(list(EventKind)), "t", 1, data, 2.5))
    alone = []
    for event in batch:
        try:
            alone.append(event_bytes(event))
        except UnicodeEncodeError:
            alone.append(b"")
    plain_batch = [event for event, raw in zip(batch, alone, strict=True) if raw]
    assert events_bytes(plain_batch) == [raw for raw in alone if raw]
    assert events_bytes(batch[:6])[2] == encode_event(batch[2])
    assert events_bytes(batch[:6])[4] == encode_event(batch[4])


def test_grouped_values_hold_each_event_as_it_would_be_stored_alone_in_order() -> None:
    """``event_values`` (format 2): split at newlines, the values are ``events_bytes``'s forms,
    in order; each counts the events it holds; a value holds at most ``per_value`` events,
    and an event msgspec must not write (NaN, bytes, a lone surrogate) has a value of its own."""
    rng = random.Random(5)
    batch = []
    for seq in range(1, 700):
        data = {"output": random_value(rng), "duration": rng.random()} if rng.random() < 0.2 else {"output": seq}
        batch.append(RunEvent("run", seq, rng.choice(list(EventKind)), rng.choice(["t", "\ud800"]), 1, data, 2.5))
    plain = [msgspec.structs.replace(event, seq=seq) for seq, event in enumerate(filter(_no_surrogate, batch), start=1)]
    values = event_values("run", plain, 0, per_value=16)
    assert [raw for _, value in values for raw in split_value(value)] == events_bytes(plain)
    assert [count for count, value in values] == [len(split_value(value)) for _, value in values]
    assert max(count for count, _ in values) == 16 and sum(count for count, _ in values) == len(plain)
    for count, value in values:
        if count == 1 and value != events_bytes([decode_event("run", value)])[0]:
            pytest.fail(f"a lone value is not the event's own form: {value!r}")
    nan = RunEvent("run", 3, EventKind.TASK_SUCCEEDED, "c", 1, {"output": float("nan")}, 1.7)
    around = [RunEvent("run", seq, EventKind.TASK_STARTED, "t", 1, {"type": "python"}, 1.5) for seq in (1, 2, 4, 5)]
    mixed = [*around[:2], nan, *around[2:]]
    assert event_values("run", mixed, 0) == [(2, b"\n".join(events_bytes(around[:2]))), (1, encode_event(nan)),
                                   (2, b"\n".join(events_bytes(around[2:])))]  # fmt: skip


def test_a_group_msgspec_refuses_falls_back_to_core_per_event() -> None:
    """A lone surrogate inside a group: that event gets a value of its own in core's form
    (the surrogate stored as U+FFFD), as for one event; the batch is not refused."""
    events = [RunEvent("run", 1, EventKind.TASK_STARTED, "a", 1, {"type": "python"}, 1.5),
              RunEvent("run", 2, EventKind.TASK_STARTED, "b", 1, {"type": "\ud800"}, 1.5)]  # fmt: skip
    assert event_values("run", events, 0) == [(1, events_bytes(events[:1])[0]), (1, encode_event(events[1]))]
    assert decode_events("run", [encode_event(events[1])])[0].data == {"type": "\ufffd"}


def _no_surrogate(event: RunEvent) -> bool:
    return event.task != "\ud800"


def test_the_bytes_of_an_earlier_release_are_written_and_read_unchanged() -> None:
    """Core's events became msgspec Structs: the batch encoder still writes core's record
    (``s``, ``k``, ``t``, ``n``, ``a``, ``d``, in that order, without the run id), not the
    Struct's own fields, and reads what 0.1 wrote to the same event."""
    event = RunEvent("r", 7, EventKind.TASK_SUCCEEDED, "t", 2, {"output": [1, "é"], "duration": 0.25}, 1700000000.5)
    stored = '{"s":7,"k":"task_succeeded","t":1700000000.5,"n":"t","a":2,"d":{"output":[1,"é"],"duration":0.25}}'
    assert events_bytes([event]) == [stored.encode()]
    assert event_values("r", [event], 6) == [(1, stored.encode())]
    assert decode_events("r", [stored.encode()]) == [event]


def _plain_batch(count: int, start: int = 1) -> list[RunEvent]:
    """The runner's hot events: ``task_started`` (shared type data) and ``task_succeeded``."""
    shared = {"type": "python"}
    batch: list[RunEvent] = []
    for seq in range(start, start + count):
        if seq % 2:
            batch.append(PlainRunEvent("run", seq, EventKind.TASK_STARTED, f"t{seq}", 1, shared, 1764970000.25 + seq))
        else:
            data = {"output": [seq, 1.2e-6, "é\n", None, True][seq % 5], "duration": 1e16 / seq}
            batch.append(PlainRunEvent("run", seq, EventKind.TASK_SUCCEEDED, f"t{seq}", 1, data, 1764970000.5 + seq))
    return batch


def test_plain_events_are_stored_as_core_stores_them_in_shared_values() -> None:
    """The runner's PlainRunEvents: core's record (bytes equal but for a float's spelling),
    read back as the same events, 64 to a value."""
    batch = _plain_batch(150)
    values = event_values("run", batch, 0)
    assert [count for count, _ in values] == [64, 64, 22]
    lines = [line for _, value in values for line in split_value(value)]
    assert decode_events("run", lines) == batch
    assert [decode_event("run", line) for line in lines] == batch
    assert all(same_json(line, encode_event(event)) for line, event in zip(lines, batch, strict=True))
    assert events_bytes(batch) == lines


def test_a_plain_event_s_data_is_taken_at_its_word() -> None:
    """A PlainRunEvent's data is not walked (its type promises plain JSON values): one that
    breaks the promise with a NaN is stored as msgspec writes it (``null``), where the same
    event as a RunEvent is walked and stored as core stores it (``NaN``). The runner never
    makes such an event (flowrunner's ``test_untracked_events``)."""
    fields = ("run", 1, EventKind.TASK_SUCCEEDED, "t", 1, {"output": float("nan")}, 1.5)
    assert event_values("run", [PlainRunEvent(*fields)], 0) == [
        (1, b'{"s":1,"k":"task_succeeded","t":1.5,"n":"t","a":1,"d":{"output":null}}')
    ]
    assert events_bytes([PlainRunEvent(*fields)]) == [
        b'{"s":1,"k":"task_succeeded","t":1.5,"n":"t","a":1,"d":{"output":null}}'
    ]
    assert event_values("run", [RunEvent(*fields)], 0) == [(1, encode_event(RunEvent(*fields)))]
    assert b"NaN" in encode_event(RunEvent(*fields))


def test_plain_and_other_events_keep_their_order_and_each_its_own_encoding() -> None:
    """Runs of PlainRunEvents between checked events: each run in values of its own, an event
    that is not plain stored as core stores it (NaN kept), the order and counts intact."""
    batch = _plain_batch(10)
    batch[3] = RunEvent("run", 4, EventKind.TASK_SUCCEEDED, "t4", 1, {"output": float("nan")}, 1.5)
    batch[7] = RunEvent("run", 8, EventKind.TASK_SUCCEEDED, "t8", 1, {"output": b"raw"}, 1.5)
    values = event_values("run", batch, 0, per_value=2)
    assert [count for count, _ in values] == [2, 1, 1, 2, 1, 1, 2]
    assert values[2] == (1, encode_event(batch[3])) and values[5] == (1, encode_event(batch[7]))
    read = decode_events("run", [line for _, value in values for line in split_value(value)])
    assert [event.seq for event in read] == list(range(1, 11))
    assert repr(read[3].data["output"]) == "nan" and read[7].data["output"] == "raw"
    assert read[:3] == batch[:3] and read[8:] == batch[8:]


def test_a_plain_event_msgspec_refuses_is_stored_in_core_s_form() -> None:
    """A lone surrogate in a PlainRunEvent: msgspec refuses the value and core's form (the
    surrogate as U+FFFD) is stored, as for any event. An int of more than 64 bits is stored
    as core stores it."""
    batch = _plain_batch(6)
    batch[2] = PlainRunEvent("run", 3, EventKind.TASK_SUCCEEDED, "t3", 1, {"output": 2**70}, 1.5)
    values = event_values("run", batch, 0)
    assert [count for count, _ in values] == [6]
    assert decode_events("run", [line for _, value in values for line in split_value(value)]) == batch
    batch[4] = PlainRunEvent("run", 5, EventKind.TASK_STARTED, "\ud800", 1, {"type": "python"}, 1.5)
    assert events_bytes(batch)[4] == encode_event(batch[4])
    values = event_values("run", batch, 0) or []
    assert values == [(1, value) for value in events_bytes(batch)]  # the group's events each alone
    assert decode_events("run", [value for _, value in values])[4].task == "\ufffd"


def test_a_batch_out_of_sequence_or_of_another_run_is_refused() -> None:
    """The numbering and run ids are checked before anything is written (None: the caller's
    ``check_batch`` says which)."""
    batch = _plain_batch(5)
    assert event_values("run", batch, 1) is None
    assert event_values("other", batch, 0) is None
    gap = [*batch[:2], *_plain_batch(2, start=4)]
    assert event_values("run", gap, 0) is None
    stranger = [*batch[:4], msgspec.structs.replace(batch[4], run_id="other")]
    assert event_values("run", stranger, 0) is None
    assert event_values("run", [], 3) == []


def test_with_an_earlier_core_every_event_is_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A core of the accepted range without PlainRunEvent: every event is walked, so a NaN
    is stored as core stores it whatever the event's type."""
    from flowbuilder_storage import _event_bytes

    assert _event_bytes._PLAIN_EVENT is PlainRunEvent
    monkeypatch.setattr(_event_bytes, "_PLAIN_EVENT", None)
    event = PlainRunEvent("run", 1, EventKind.TASK_SUCCEEDED, "t", 1, {"output": float("nan")}, 1.5)
    assert event_values("run", [event], 0) == [(1, encode_event(event))]
    assert events_bytes([event]) == [encode_event(event)]
