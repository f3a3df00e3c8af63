"""Stores written by earlier releases stay readable; stores of a newer format are refused.

``fixtures/rocksdb-format1`` is a small store written by flowbuilder-storage 0.1.0 (format
1). When the format changes, keep it (and add the new version's) and keep this test green.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent, RunStatus
from flowbuilder_storage import RedisStore, RocksDBStore
from flowbuilder_storage._records import dump_json

FORMAT1 = Path(__file__).with_name("fixtures") / "rocksdb-format1"


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
