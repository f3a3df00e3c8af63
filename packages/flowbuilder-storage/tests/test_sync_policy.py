"""Sync policies: `always` acknowledges only after the WAL was synced; `never` never syncs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flowbuilder.errors import ConfigurationError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RocksDBStore


def append_many(store: RocksDBStore, count: int) -> None:
    for seq in range(1, count + 1):
        store.append_events("r", [RunEvent("r", seq, EventKind.TASK_ANNOTATED, task="t")], seq - 1)


def test_with_sync_always_every_acknowledged_append_was_synced(tmp_path: Path) -> None:
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db?sync=always") as store:
        writes_before, syncs_before = store.wal_stats()
        append_many(store, 20)
        writes, syncs = store.wal_stats()
    assert writes - writes_before == 20
    assert syncs - syncs_before == 20


def test_with_sync_never_appends_are_not_synced(tmp_path: Path) -> None:
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db?sync=never") as store:
        writes_before, syncs_before = store.wal_stats()  # creating the store syncs its format key once
        append_many(store, 20)
        writes, syncs = store.wal_stats()
    assert writes - writes_before == 20 and syncs == syncs_before


def wait_for_syncs_above(store: RocksDBStore, count: int) -> int:
    """The store's sync count once it exceeds ``count`` (gives up after 10 s and returns it)."""
    deadline = time.monotonic() + 10
    while store.wal_stats()[1] <= count and time.monotonic() < deadline:
        time.sleep(0.01)
    return store.wal_stats()[1]


def test_with_sync_batch_the_wal_is_synced_within_the_interval(tmp_path: Path) -> None:
    """Unsynced appends are synced by the background syncer, every time new ones arrive."""
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db?sync=batch&sync_interval_ms=20") as store:
        _, after_open = store.wal_stats()  # creating the store syncs its format key once
        append_many(store, 20)
        after_first = wait_for_syncs_above(store, after_open)
        assert after_first > after_open, "appends under sync=batch were never synced"
        store.append_events("r", [RunEvent("r", 21, EventKind.TASK_ANNOTATED, task="t")], 20)
        assert wait_for_syncs_above(store, after_first) > after_first, "the syncer stopped after its first sync"


def test_an_unknown_sync_policy_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="always, batch, never"):
        RocksDBStore.open(f"rocksdb://{tmp_path}/db?sync=sometimes")


def test_the_sync_policy_comes_from_the_environment_when_the_url_has_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("FLOWBUILDER_ROCKSDB__SYNC", "always")
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db") as store:
        assert store.durability.policy.value == "always"
