"""Long runs load from a snapshot the store keeps itself."""

from __future__ import annotations

from pathlib import Path

from flowbuilder.events import EventKind, RunEvent, fold_events
from flowbuilder_storage import RocksDBStore
from flowbuilder_storage.rocksdb_store import SNAPSHOT_EVERY


def test_loading_a_long_run_saves_a_snapshot_that_later_loads_start_from(tmp_path: Path) -> None:
    count = SNAPSHOT_EVERY + 10
    events = [RunEvent("long", seq, EventKind.TASK_ANNOTATED, task=f"t{seq}") for seq in range(1, count + 1)]
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db") as store:
        store.append_events("long", events, 0)
        assert store.load_snapshot("long") is None
        first = store.load_state("long")
        snapshot = store.load_snapshot("long")
        assert snapshot is not None and snapshot.seq == count
        store.append_events(
            "long", [RunEvent("long", count + 1, EventKind.RUN_FINISHED, data={"status": "succeeded"})], count
        )
        again = store.load_state("long")
    assert first.to_dict() == fold_events("long", events).to_dict()
    assert again.seq == count + 1 and again.status.value == "succeeded"
