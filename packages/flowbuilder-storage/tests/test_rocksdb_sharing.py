"""Several processes on one rocksdb:// directory: the owner serves, the others route, hand-over works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RocksDBStore

WORKER = str(Path(__file__).with_name("store_worker.py"))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"rocksdb://{tmp_path}/db"


@pytest.fixture
def owner(url: str) -> Iterator[subprocess.Popen[str]]:
    """Another process that opened the store first and keeps it open."""
    process = subprocess.Popen([sys.executable, WORKER, "hold", url, "120"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def event(run_id: str, seq: int) -> RunEvent:
    return RunEvent(run_id, seq, EventKind.TASK_ANNOTATED, task="t", data={"n": seq})


def test_a_second_process_routes_its_calls_to_the_owner(url: str, owner: subprocess.Popen[str]) -> None:
    with RocksDBStore.open(url) as store:
        assert not store.is_owner
        assert store.append_events("r", [event("r", 1), event("r", 2)], 0) == 2
        assert [e.seq for e in store.read_events("r")] == [1, 2]
        ref = store.put_blob("r", "out", b"\x00\x01" * 50_000)
        assert store.get_blob(ref) == b"\x00\x01" * 50_000


def test_the_cli_reads_while_another_process_holds_the_store(url: str, owner: subprocess.Popen[str]) -> None:
    with RocksDBStore.open(url) as store:
        store.append_events("r", [event("r", 1)], 0)
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    result = subprocess.run([cli, "runs", "list", "--json", "--store", url], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert '"run_id": "r"' in result.stdout


def test_a_client_takes_over_when_the_owner_closes_the_store(url: str, owner: subprocess.Popen[str]) -> None:
    with RocksDBStore.open(url) as store:
        store.append_events("r", [event("r", 1)], 0)
        assert owner.stdin is not None
        owner.stdin.close()  # the owner closes the store and exits
        owner.wait(timeout=30)
        assert store.append_events("r", [event("r", 2)], 1) == 2
        assert store.is_owner


def test_a_client_takes_over_when_the_owner_is_killed(url: str, owner: subprocess.Popen[str]) -> None:
    with RocksDBStore.open(url) as store:
        store.append_events("r", [event("r", 1)], 0)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=30)
        assert store.append_events("r", [event("r", 2)], 1) == 2
        assert [e.seq for e in store.read_events("r")] == [1, 2]
        assert store.is_owner


def test_writers_that_come_and_go_lose_no_append(url: str) -> None:
    writers = [subprocess.Popen([sys.executable, WORKER, "append", url, f"run-{n}", str(100 + 50 * n)],
                                stdout=subprocess.PIPE, text=True) for n in range(3)]  # fmt: skip
    for process in writers:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0 and out.strip() == "done"
    with RocksDBStore.open(url) as store:
        for n in range(3):
            assert store.last_seq(f"run-{n}") == 100 + 50 * n


def test_a_forked_child_does_not_keep_the_store_reachable_after_its_parent_closed_it(url: str) -> None:
    store = RocksDBStore.open(url)
    store.append_events("r", [event("r", 1)], 0)
    child = os.fork()
    if child == 0:  # the child just lives a while, holding whatever it inherited
        import time

        time.sleep(60)
        os._exit(0)
    try:
        store.close()
        with RocksDBStore.open(url) as again:  # becomes owner; the child's copy must not answer (or hang)
            assert again.is_owner and again.last_seq("r") == 1
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
