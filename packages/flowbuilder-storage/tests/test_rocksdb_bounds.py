"""Bounded reads of a rocksdb:// store stop at their bound, whatever Python does with memory meanwhile.

rocksdict gives RocksDB a pointer into the bytes of an iterator's upper bound and keeps
neither those bytes nor the ``ReadOptions`` alive for the iterator. A bound passed as a
temporary is freed as soon as ``items()``/``values()`` returns; the next Python object of
the same size reuses its memory (the first value read, here), and the iterator then runs
past the run's events into the keys after them: the run's summary came back as an event,
and ``flowbuilder runs show`` failed with ``KeyError: 's'`` (the crash test, under load).

The events here are stored in exactly as many bytes as the bound of their run's key range
(run id length chosen for that), so the first value read reuses a freed bound's memory
deterministically instead of once in a while.
"""

from __future__ import annotations

from pathlib import Path

from flowbuilder.events import EventKind, RunEvent, decode_event
from flowbuilder_storage._event_bytes import event_bytes, split_value
from flowbuilder_storage._rocks_engine import RocksEngine, bounded_range
from flowbuilder_storage._rocks_layout import event_prefix, prefix_end
from flowbuilder_storage._sync import Durability

READS = 50


def _events(run_id: str, count: int) -> list[RunEvent]:
    first = RunEvent(run_id, 1, EventKind.RUN_CREATED, time=1.0, data={"workflow": "w"})
    return [
        first,
        *(RunEvent(run_id, seq, EventKind.TASK_ANNOTATED, task="t", time=1.0) for seq in range(2, count + 1)),
    ]


def _run_id_sized_like_its_events(tag: str) -> str:
    """A run id whose key range's upper bound is as long as the stored form of its first event."""
    size = len(event_bytes(_events("x", 1)[0]))
    run_id = (tag * size)[: size - 2]
    assert len(prefix_end(event_prefix(run_id))) == size
    return run_id


def _engine_with_runs(path: Path) -> tuple[RocksEngine, list[str]]:
    engine = RocksEngine(path, Durability())
    runs = [_run_id_sized_like_its_events(tag) for tag in "ab"]
    for run_id in runs:  # each run also gets its summary key ("r" + run id) after every event key
        engine.append_events(run_id, _events(run_id, 5), 0)
    return engine, runs


def test_reading_a_runs_events_returns_those_events_and_never_the_keys_after_them(tmp_path: Path) -> None:
    engine, runs = _engine_with_runs(tmp_path / "db")
    try:
        for _ in range(READS):
            for run_id in runs:
                assert [decode_event(run_id, raw).seq for raw in engine.read_encoded(run_id)] == [1, 2, 3, 4, 5]
                assert [e.seq for e in engine.read_events(run_id, after_seq=2)] == [3, 4, 5]
    finally:
        engine.close()


def test_a_bounded_range_given_a_temporary_bound_stops_at_it(tmp_path: Path) -> None:
    engine, runs = _engine_with_runs(tmp_path / "db")
    try:
        for _ in range(READS):
            for run_id in runs:  # the bound below is referenced by nothing but the range
                values = bounded_range(engine._db, "values", event_prefix(run_id), prefix_end(event_prefix(run_id)))
                assert [decode_event(run_id, raw).seq for value in values for raw in split_value(value)] == [
                    1,
                    2,
                    3,
                    4,
                    5,
                ]
    finally:
        engine.close()


def test_exporting_every_run_returns_only_their_events(tmp_path: Path) -> None:
    engine, runs = _engine_with_runs(tmp_path / "db")
    try:
        for _ in range(READS):
            exported, raw = engine.export_events()
            assert exported == sorted(runs)
            assert [line.startswith(b'{"s":') for line in raw.split(b"\n")] == [True] * 10
    finally:
        engine.close()
