"""Big batches and task-only appends keep their sequence numbers exact, across reopening."""

from __future__ import annotations

from pathlib import Path

from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RedisStore, RocksDBStore


def created(run_id: str) -> RunEvent:
    return RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "w"}, time=5.0)


def tasks(run_id: str, first: int, count: int) -> list[RunEvent]:
    return [RunEvent(run_id, seq, EventKind.TASK_ANNOTATED, task=f"t{seq}") for seq in range(first, first + count)]


def test_a_batch_of_2500_events_is_appended_whole_on_redis(redis_url: str) -> None:
    with RedisStore.open(redis_url) as store:
        store.append_events("big", [created("big"), *tasks("big", 2, 2499)], 0)
        assert store.last_seq("big") == 2500 and store.get_run("big").last_seq == 2500
        assert [e.seq for e in store.read_events("big", 2490)] == list(range(2491, 2501))


def test_task_only_appends_keep_last_seq_across_reopening_rocksdb(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/db"
    with RocksDBStore.open(url) as store:
        store.append_events("r", [created("r")], 0)
        store.append_events("r", tasks("r", 2, 10), 1)
        store.append_events("r", tasks("r", 12, 3000), 11)
    with RocksDBStore.open(url) as store:
        assert store.last_seq("r") == 3011
        summary = store.get_run("r")
        assert (summary.workflow, summary.last_seq) == ("w", 3011)
        assert [s.last_seq for s in store.list_runs().runs] == [3011]
        assert store.append_events("r", tasks("r", 3012, 1), 3011) == 3012
