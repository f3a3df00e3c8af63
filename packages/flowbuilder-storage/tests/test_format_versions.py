"""Stores written by earlier releases stay readable; stores of a newer format are refused.

``fixtures/rocksdb-format1`` is a small store written by flowbuilder-storage 0.1.0 (format
1). When the format changes, keep it (and add the new version's) and keep this test green.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent, RunStatus, encode_event
from flowbuilder_storage import RedisStore, RocksDBStore
from flowbuilder_storage._records import dump_json
from flowbuilder_storage._rocks_engine import RocksEngine
from flowbuilder_storage._sync import Durability

FORMAT1 = Path(__file__).with_name("fixtures") / "rocksdb-format1"
FORMAT2 = Path(__file__).with_name("fixtures") / "rocksdb-format2"
"""Written by flowbuilder-storage 0.2.0 (format 2): run ``r2``, :func:`format2_events` in two
appends, the second's task events grouped 64 to a value around one kept alone (bytes)."""


def format2_events() -> list[RunEvent]:
    events = [RunEvent("r2", 1, EventKind.RUN_CREATED, data={"workflow": "kept2"}, time=1765000000.5),
              RunEvent("r2", 2, EventKind.RUN_STARTED, data={"runner": "local", "resumed": False}, time=1765000000.75)]  # fmt: skip
    for index in range(80):
        kind = EventKind.TASK_STARTED if index % 2 == 0 else EventKind.TASK_SUCCEEDED
        data = {"type": "python"} if index % 2 == 0 else {"output": {"n": index, "s": "二"}, "duration": 1.2e-06}
        if index == 41:
            data = {"output": b"raw", "duration": 0.5}  # core's form, a value of its own
        events.append(RunEvent("r2", len(events) + 1, kind, f"t{index // 2}", 1, data, 1765000001.0 + index))
    events.append(RunEvent("r2", len(events) + 1, EventKind.RUN_FINISHED, data={"status": "succeeded"},
                           time=1765000100.0))  # fmt: skip
    return events


def test_a_format_1_store_reads_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "store"
    shutil.copytree(FORMAT1, path)
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        summary = store.get_run("r1")
        assert (summary.workflow, summary.status, summary.last_seq) == ("kept", RunStatus.SUCCEEDED, 5)
        assert [e.kind for e in store.read_events("r1")][-1] is EventKind.RUN_FINISHED
        state = store.load_state("r1")
        assert state.tasks["a"].output == {"rows": [1, "二"]}
        assert store.load_definition(summary.definition_hash or "").startswith(b"name: kept")
        assert store.read_logs("r1")[0].text == "a" and store.get_blob("r1/a.out") == b"\x00\x01blob"
        assert store.append_events("r1", [RunEvent("r1", 6, EventKind.TASK_ANNOTATED, task="a")], 5) == 6


def test_a_format_2_store_reads_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "store"
    shutil.copytree(FORMAT2, path)
    expected = format2_events()
    expected[43] = RunEvent("r2", 44, EventKind.TASK_SUCCEEDED, "t20", 1, {"output": "raw", "duration": 0.5},
                            expected[43].time)  # fmt: skip  # core stores bytes as text
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        assert store.read_events("r2") == expected
        assert store.read_events("r2", 40, 10) == expected[40:50]
        assert store.get_run("r2").status is RunStatus.SUCCEEDED and store.last_seq("r2") == len(expected)


def test_a_rocksdb_store_of_a_newer_format_is_refused_unchanged(tmp_path: Path) -> None:
    import rocksdict

    path = tmp_path / "store"
    shutil.copytree(FORMAT1, path)
    db = rocksdict.Rdict(str(path), rocksdict.Options(raw_mode=True))
    db.put(b"!format", dump_json({"format": 99, "app": "flowbuilder"}))
    db.close()
    del db
    with pytest.raises(StoreError, match="newer flowbuilder-storage"):
        RocksDBStore.open(f"rocksdb://{path}")


def test_a_redis_store_of_a_newer_format_is_refused(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("fb:format", dump_json({"format": 99, "app": "flowbuilder"}))
    client.close()
    with pytest.raises(StoreError, match="upgrade flowbuilder-storage"):
        RedisStore.open(redis_url)


def test_a_redis_prefix_holding_something_else_is_refused(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("fb:format", b"somebody else's value")
    client.close()
    with pytest.raises(StoreError, match="choose another"):
        RedisStore.open(redis_url)


GARBAGE_MARKERS = [b'{"format": 1e400}', b"[" * 100_000, b'{"format": -1}', b'{"format": "2"}', b'{"format": 1.5}',
                   b'{"format": null}', b"\xff\xfe", b"[2]"]  # fmt: skip
"""Format markers no release wrote: a float too big for an int (was OverflowError) and
nesting past the JSON reader's depth (RecursionError) were exit 1 as "plugin 'storage'
failed to open store" with the bare exception; -1, "2" and 1.5 were taken as formats."""


@pytest.mark.parametrize("marker", GARBAGE_MARKERS, ids=range(len(GARBAGE_MARKERS)))
def test_a_rocksdb_store_with_a_garbage_format_marker_is_refused_unchanged(tmp_path: Path, marker: bytes) -> None:
    import rocksdict

    path = tmp_path / "store"
    shutil.copytree(FORMAT1, path)
    db = rocksdict.Rdict(str(path), rocksdict.Options(raw_mode=True))
    db.put(b"!format", marker)
    db.close()
    del db
    with pytest.raises(StoreError, match=r"unreadable format key .*; the store is damaged or foreign"):
        RocksDBStore.open(f"rocksdb://{path}")
    db = rocksdict.Rdict(str(path), rocksdict.Options(raw_mode=True), access_type=rocksdict.AccessType.read_only())
    assert db.get(b"!format") == marker
    db.close()


@pytest.mark.parametrize("marker", GARBAGE_MARKERS, ids=range(len(GARBAGE_MARKERS)))
def test_a_redis_store_with_a_garbage_format_marker_is_refused(redis_url: str, marker: bytes) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("fb:format", marker)
    try:
        with pytest.raises(StoreError, match="does not hold a FlowBuilder format marker"):
            RedisStore.open(redis_url)
        assert client.get("fb:format") == marker
    finally:
        client.close()


def _future_run(store: RocksDBStore | RedisStore) -> None:
    store.append_events("f", [RunEvent("f", 1, EventKind.RUN_CREATED, data={"workflow": "w"}),
                              RunEvent("f", 2, EventKind.RUN_STARTED)], 0)  # fmt: skip
    store.save_snapshot(store.load_state("f"))


FUTURE = [("summary", b'"status":"running"', b'"status":"exploded"', "the stored summary of run f"),
          ("event", b'"k":"run_started"', b'"k":"run_teleported"', "an event of run f"),
          ("snapshot", b'"status":"running"', b'"status":"exploded"', "the stored snapshot of run f")]  # fmt: skip
"""A record with a value a newer release may add without a new format (a run status, an event
kind), or damaged: reading it was a bare ValueError (`runs list`, `runs show`, `gc`: exit 70)."""


def _reads(store: RocksDBStore | RedisStore, record: str) -> None:
    if record == "summary":
        store.list_runs()
    elif record == "event":
        store.read_events("f")
    else:
        assert store.load_snapshot("f") is not None


@pytest.mark.parametrize(("record", "old", "new", "named"), FUTURE, ids=[f[0] for f in FUTURE])
def test_a_rocksdb_record_of_a_newer_release_is_one_line_naming_it(tmp_path: Path, record: str, old: bytes,
                                                                    new: bytes, named: str) -> None:  # fmt: skip
    import rocksdict

    path = tmp_path / "store"
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        _future_run(store)
    db = rocksdict.Rdict(str(path), rocksdict.Options(raw_mode=True))
    key = {"summary": b"rf", "snapshot": b"sf"}.get(record) or next(k for k in db.keys(from_key=b"ef\0"))
    assert old in db[key]
    db[key] = db[key].replace(old, new)
    db.close()
    del db
    refused = rf"^{named} cannot be read \(ValueError: .*newer flowbuilder-storage"
    with RocksDBStore.open(f"rocksdb://{path}") as store, pytest.raises(StoreError, match=refused):
        _reads(store, record)


@pytest.mark.parametrize(("record", "old", "new", "named"), FUTURE, ids=[f[0] for f in FUTURE])
def test_a_redis_record_of_a_newer_release_is_one_line_naming_it(redis_url: str, record: str, old: bytes,
                                                                  new: bytes, named: str) -> None:  # fmt: skip
    import redis

    with RedisStore.open(redis_url) as store:
        _future_run(store)
    client = redis.Redis.from_url(redis_url)
    try:
        if record == "event":
            client.lset("fb:ev:f", 1, client.lindex("fb:ev:f", 1).replace(old, new))
        else:
            key = "fb:sum:f" if record == "summary" else "fb:snap:f"
            assert old in client.get(key)
            client.set(key, client.get(key).replace(old, new))
    finally:
        client.close()
    refused = rf"^{named} cannot be read \(ValueError: .*newer flowbuilder-storage"
    with RedisStore.open(redis_url) as store, pytest.raises(StoreError, match=refused):
        _reads(store, record)


def test_a_damaged_log_line_or_annotation_is_one_line_on_the_cli(tmp_path: Path) -> None:
    """`flowbuilder logs` / `runs show` on a run whose stored log line or annotation is not
    JSON were exit 70 (JSONDecodeError)."""
    import subprocess
    import sys

    import rocksdict

    from flowbuilder.annotations import Annotation
    from flowbuilder.interfaces.store import LogLine

    path = tmp_path / "store"
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        _future_run(store)
        store.append_logs("f", [LogLine("t", 1, "stdout", "hello", 1.0)])
        store.annotate("f", Annotation("note", "x"))
    db = rocksdict.Rdict(str(path), rocksdict.Options(raw_mode=True))
    stored = list(db.keys())
    for key in [k for k in stored if k[:1] in (b"l", b"n")]:
        db[key] = b'{"garbage": [}'
    db.close()
    del db
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    for args, named in [(["logs", "f"], "a stored log line"), (["runs", "show", "f"], "stored annotation 1")]:
        result = subprocess.run([cli, *args, "--store", f"rocksdb://{path}"], capture_output=True, text=True)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: {named} cannot be read (JSONDecodeError: "), result.stderr


# -- event bytes written before msgspec (issue 10) ------------------------------------------

OLD_EVENTS = [
    RunEvent("old", 1, EventKind.RUN_CREATED, data={"workflow": "w", "params": {"n": 3}}, time=1764970000.25),
    RunEvent("old", 2, EventKind.RUN_STARTED, data={"runner": "local", "resumed": False}, time=1764970000.5),
    RunEvent("old", 3, EventKind.TASK_STARTED, "a", 1, {"type": "python"}, 1764970000.75),
    RunEvent(
        "old",
        4,
        EventKind.TASK_SUCCEEDED,
        "a",
        1,
        {"output": {"tiny": 1e-05, "huge": 1e16}, "duration": 1.2e-06},
        1764970001.0,
    ),
    RunEvent("old", 5, EventKind.TASK_STARTED, "b", 1, {"type": "python"}, 1764970001.25),
]
"""A run as flowbuilder-storage 0.2.0's first releases stored it: ``json.dumps`` (core's
``encode_event``), which spells floats ``1e-05``, ``1.2e-06`` and ``1e+16``."""

NEW_EVENTS = [
    RunEvent("old", 6, EventKind.TASK_SUCCEEDED, "b", 1, {"output": [1, "二"], "duration": 2.5e-06}, 1764970001.5),
    RunEvent("old", 7, EventKind.RUN_FINISHED, data={"status": "succeeded"}, time=1764970001.75),
]


def old_bytes() -> list[bytes]:
    encoded = [encode_event(event) for event in OLD_EVENTS]  # the encoder those releases stored with
    assert encoded[3] == (b'{"s":4,"k":"task_succeeded","t":1764970001.0,"n":"a","a":1,'
                          b'"d":{"output":{"tiny":1e-05,"huge":1e+16},"duration":1.2e-06}}')  # fmt: skip
    return encoded


def test_rocksdb_events_stored_by_the_json_encoder_read_back_and_take_new_appends(tmp_path: Path) -> None:
    engine = RocksEngine(tmp_path / "store", Durability())
    engine.append_encoded("old", old_bytes(), 0)  # stored byte for byte as they came
    engine.close()
    with RocksDBStore.open(f"rocksdb://{tmp_path / 'store'}") as store:
        assert store.read_events("old") == OLD_EVENTS
        assert store.append_events("old", NEW_EVENTS, 5) == 7
    with RocksDBStore.open(f"rocksdb://{tmp_path / 'store'}") as store:
        assert store.read_events("old") == OLD_EVENTS + NEW_EVENTS
        state = store.load_state("old")
        assert state.status is RunStatus.SUCCEEDED and state.tasks["a"].output == {"tiny": 1e-05, "huge": 1e16}


def test_redis_events_stored_by_the_json_encoder_read_back_and_take_new_appends(redis_url: str) -> None:
    import redis

    with RedisStore.open(redis_url + "?prefix=oldbytes:") as store:
        store.append_events("old", OLD_EVENTS, 0)
        client = redis.Redis.from_url(redis_url)
        for index, raw in enumerate(old_bytes()):  # what those releases left in the list
            client.lset("oldbytes:ev:old", index, raw)
        assert client.lindex("oldbytes:ev:old", 3) == old_bytes()[3]
        client.close()
        assert store.read_events("old") == OLD_EVENTS
        assert store.append_events("old", NEW_EVENTS, 5) == 7
        assert store.read_events("old") == OLD_EVENTS + NEW_EVENTS
