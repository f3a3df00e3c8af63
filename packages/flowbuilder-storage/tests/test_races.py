"""Two processes racing to append to one run: exactly one wins each sequence number."""

from __future__ import annotations

from pathlib import Path

from racing_writers import run_two_writers

from flowbuilder_storage import RedisStore, RocksDBStore

ROUNDS = 150


def race(url: str, run_id: str) -> dict[str, list[int]]:
    return run_two_writers("race", url, run_id, rounds=ROUNDS)


def check(won: dict[str, list[int]], stored_tasks: list[str | None]) -> None:
    all_won = sorted(won["a"] + won["b"])
    assert all_won == list(range(1, len(stored_tasks) + 1)), "every seq won exactly once"
    for name, seqs in won.items():
        for seq in seqs:
            assert stored_tasks[seq - 1] == name


def test_two_processes_racing_on_rocksdb_each_seq_has_exactly_one_winner(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/db"
    won = race(url, "contested")
    with RocksDBStore.open(url) as store:
        check(won, [e.task for e in store.read_events("contested")])


def test_two_processes_racing_on_redis_each_seq_has_exactly_one_winner(redis_url: str) -> None:
    won = race(redis_url, "contested")
    with RedisStore.open(redis_url) as store:
        check(won, [e.task for e in store.read_events("contested")])
