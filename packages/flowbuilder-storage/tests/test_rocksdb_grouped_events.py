"""Format 2 of ``rocksdb://``: consecutive plain events of a batch share one stored value.

A value holds up to ``EVENTS_PER_VALUE`` events (their stored forms joined by newlines) under
the key of the last one; a format-1 value (one event) reads the same way. The first grouped
write marks the store 2, in the same batch, so an older release refuses it instead of
misreading it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flowbuilder.events import EventKind, RunEvent, encode_event
from flowbuilder_storage import RocksDBStore
from flowbuilder_storage._event_bytes import EVENTS_PER_VALUE, events_bytes
from flowbuilder_storage._records import ROCKSDB_FORMAT_VERSION
from flowbuilder_storage._rocks_engine import RocksEngine, bounded_range
from flowbuilder_storage._rocks_layout import FORMAT_KEY, event_prefix, prefix_end
from flowbuilder_storage._sync import Durability

FORMAT1 = Path(__file__).with_name("fixtures") / "rocksdb-format1"
TASKS = 150


def run_events(run_id: str, start: int = 0) -> list[RunEvent]:
    events = [] if start else [RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "w"}, time=1.0)]
    shared = {"type": "python"}
    for index in range(TASKS):
        seq = start + len(events) + 1
        kind, data = ((EventKind.TASK_STARTED, shared) if index % 2 == 0 else
                      (EventKind.TASK_SUCCEEDED, {"output": {"n": index, "s": "naïve ✓"}, "duration": 0.5}))  # fmt: skip
        events.append(RunEvent(run_id, seq, kind, f"t{index // 2}", 1, data, 1.0 + index))
    return events


def stored_values(engine: RocksEngine, run_id: str) -> list[tuple[bytes, bytes]]:
    prefix = event_prefix(run_id)
    return list(bounded_range(engine._db, "items", prefix, prefix_end(prefix)))


def stored_format(engine: RocksEngine) -> int:
    return int(json.loads(engine._db.get(FORMAT_KEY))["format"])


def test_a_batch_of_plain_events_takes_one_key_per_group_and_reads_back_whole(tmp_path: Path) -> None:
    engine = RocksEngine(tmp_path / "store", Durability())
    try:
        events = run_events("r")
        assert engine.append_events("r", events, 0) == len(events)
        values = stored_values(engine, "r")
        assert len(values) == -(-len(events) // EVENTS_PER_VALUE)
        assert values[0][0] == event_prefix("r") + EVENTS_PER_VALUE.to_bytes(8, "big")  # keyed by its last event
        assert engine.read_events("r") == events
        assert engine.read_encoded("r") == events_bytes(events)
    finally:
        engine.close()


@pytest.mark.parametrize("after", [0, 1, EVENTS_PER_VALUE - 1, EVENTS_PER_VALUE, EVENTS_PER_VALUE + 1, 100, TASKS])
@pytest.mark.parametrize("limit", [None, 1, 5, EVENTS_PER_VALUE, EVENTS_PER_VALUE + 7])
def test_a_read_from_inside_a_value_returns_exactly_the_events_asked_for(
    tmp_path: Path, after: int, limit: int | None
) -> None:
    engine = RocksEngine(tmp_path / "store", Durability())
    try:
        events = run_events("r")
        engine.append_events("r", events, 0)
        expected = events[after:] if limit is None else events[after : after + limit]
        assert engine.read_events("r", after, limit) == expected
    finally:
        engine.close()


def test_an_event_msgspec_must_not_write_keeps_core_s_form_between_grouped_neighbours(tmp_path: Path) -> None:
    engine = RocksEngine(tmp_path / "store", Durability())
    try:
        events = run_events("r")
        odd = RunEvent("r", len(events) + 1, EventKind.TASK_SUCCEEDED, "odd", 1, {"output": b"raw"}, 9.0)
        more = run_events("r", start=len(events) + 1)
        engine.append_events("r", [*events, odd, *more], 0)
        assert engine.read_encoded("r", len(events), 1) == [encode_event(odd)]
        assert engine.read_events("r", len(events) + 1) == more
        assert engine.last_seq("r") == more[-1].seq
    finally:
        engine.close()


def test_an_export_has_one_line_per_event_of_grouped_values(tmp_path: Path) -> None:
    engine = RocksEngine(tmp_path / "store", Durability())
    try:
        for run_id in ("a", "b"):
            engine.append_events(run_id, run_events(run_id), 0)
        for runs, raw in [engine.export_events(), engine.export_events(["b", "a"]), *engine.export_event_chunks(1)]:
            lines = raw.split(b"\n")
            assert len(lines) == len(runs) * (TASKS + 1) and all(line.startswith(b'{"s":') for line in lines)
    finally:
        engine.close()


def test_a_new_store_is_marked_with_the_current_format(tmp_path: Path) -> None:
    engine = RocksEngine(tmp_path / "store", Durability())
    try:
        assert stored_format(engine) == ROCKSDB_FORMAT_VERSION == 2
    finally:
        engine.close()


def test_a_format_1_store_reads_whole_and_is_marked_2_by_its_first_grouped_write(tmp_path: Path) -> None:
    path = tmp_path / "store"
    shutil.copytree(FORMAT1, path)
    engine = RocksEngine(path, Durability())
    try:
        old = engine.read_events("r1")
        assert stored_format(engine) == 1  # opening and reading change nothing
        engine.append_events("r1", [RunEvent("r1", 6, EventKind.TASK_ANNOTATED, task="a", time=2.0)], 5)
        assert stored_format(engine) == 1  # a value of one event is format 1's
        more = run_events("r1", start=6)
        engine.append_events("r1", more, 6)
        assert stored_format(engine) == 2
        assert engine.read_events("r1")[:5] == old and engine.read_events("r1", 6) == more
    finally:
        engine.close()
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        assert store.last_seq("r1") == more[-1].seq and store.read_events("r1", 5)[1:] == more


def test_a_routed_append_of_stored_forms_is_grouped_too_and_reads_back_byte_for_byte(tmp_path: Path) -> None:
    """What a client process sends (the owner stores the bytes that came), big forms alone."""
    engine = RocksEngine(tmp_path / "store", Durability())
    try:
        events = run_events("r")
        big = RunEvent("r", len(events) + 1, EventKind.TASK_SUCCEEDED, "big", 1, {"output": "x" * 70_000}, 9.0)
        encoded = [encode_event(event) for event in [*events, big]]
        assert engine.append_encoded("r", encoded, 0) == len(encoded)
        assert len(stored_values(engine, "r")) == -(-len(events) // EVENTS_PER_VALUE) + 1
        assert engine.read_encoded("r") == encoded and engine.read_events("r", len(events)) == [big]
    finally:
        engine.close()
