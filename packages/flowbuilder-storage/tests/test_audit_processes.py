"""The audit log shared by processes: concurrent appenders lose nothing, and records outlive the server."""

from __future__ import annotations

from pathlib import Path

from racing_writers import run_two_writers

from flowbuilder.audit import AuditRecord
from flowbuilder_contracts.redis_server import RedisServer
from flowbuilder_storage import RedisStore, RocksDBStore

PER_WRITER = 120


def append_from_two_processes(url: str) -> dict[str, list[int]]:
    return run_two_writers("audit", url, rounds=PER_WRITER)


def check_every_record_kept(numbers: dict[str, list[int]], records: list[AuditRecord]) -> None:
    assert sorted(numbers["a"] + numbers["b"]) == list(range(1, 2 * PER_WRITER + 1)), "each number given once"
    by_seq = {record.seq: record for record in records}
    assert len(by_seq) == 2 * PER_WRITER
    for name, seqs in numbers.items():
        assert [by_seq[seq].detail for seq in seqs if by_seq[seq].actor == name] == [str(i) for i in range(PER_WRITER)]


def test_two_processes_appending_to_a_rocksdb_audit_log_keep_every_record(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/db"
    numbers = append_from_two_processes(url)
    with RocksDBStore.open(url) as store:
        check_every_record_kept(numbers, store.read_audit(limit=1000).records)


def test_two_processes_appending_to_a_redis_audit_log_keep_every_record(redis_url: str) -> None:
    numbers = append_from_two_processes(redis_url)
    with RedisStore.open(redis_url) as store:
        check_every_record_kept(numbers, store.read_audit(limit=1000).records)


def test_redis_audit_records_survive_a_server_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        with RedisStore.open(server.url) as store:
            kept = store.append_audit(AuditRecord(actor="ci", action="POST /x", outcome="201"))
        server.stop()
        server.start()
        with RedisStore.open(server.url) as store:
            assert store.read_audit().records == [kept]
            assert store.append_audit(AuditRecord(actor="ci", action="POST /y", outcome="200")).seq == 2
    finally:
        server.stop()


def test_the_retention_comes_from_the_audit_settings(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("FLOWBUILDER_AUDIT__RETENTION", "2")
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db") as store:
        assert store.audit_retention == 2
        for index in range(4):
            store.append_audit(AuditRecord(actor="ci", action="POST /x", outcome="200", detail=str(index)))
        assert [record.detail for record in store.read_audit().records] == ["3", "2"]
