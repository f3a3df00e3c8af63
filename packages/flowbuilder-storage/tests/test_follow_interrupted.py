"""`logs --follow` and `runs watch` of a run whose process is gone stop with one line (they
waited for ever: the owner SIGKILLed while another process followed the run)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.leases import RunLease
from flowbuilder_storage import RocksDBStore

CLI = str(Path(sys.executable).with_name("flowbuilder"))


def running_run(url: str, pid: int) -> None:
    """A started run whose owner's lease names ``pid`` on this host, valid for an hour."""
    with RocksDBStore.open(url) as store:
        store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED, data={"workflow": "w"}),
                                  RunEvent("r", 2, EventKind.RUN_STARTED),
                                  RunEvent("r", 3, EventKind.TASK_STARTED, "t", 1)], 0)  # fmt: skip
        now = time.time()
        store.renew_leases([RunLease("r", "owner", socket.gethostname(), pid, now, now + 3600)])


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("command", [["logs", "r", "--follow"], ["runs", "watch", "r"]])
def test_following_an_interrupted_run_stops_with_one_line(tmp_path: Path, command: list[str]) -> None:
    url = f"rocksdb://{tmp_path}/db"
    running_run(url, dead_pid())
    started = time.monotonic()
    result = subprocess.run([CLI, *command, "--store", url], capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert (
        lines[0].startswith("error: run r is interrupted: its process is gone") and "flowbuilder resume r" in lines[0]
    )
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("command", [["logs", "r", "--follow"], ["runs", "watch", "r"]])
def test_following_a_run_whose_process_lives_goes_on_until_it_finishes(tmp_path: Path, command: list[str]) -> None:
    url = f"rocksdb://{tmp_path}/db"
    running_run(url, os.getpid())  # this test's process: alive

    def finish() -> None:
        time.sleep(2.5)  # past two of `runs watch`'s checks
        with RocksDBStore.open(url) as store:
            store.append_events("r", [RunEvent("r", 4, EventKind.RUN_FINISHED, data={"status": "succeeded"})], 3)

    finisher = threading.Thread(target=finish)
    finisher.start()
    result = subprocess.run([CLI, *command, "--store", url], capture_output=True, text=True, timeout=60)
    finisher.join()
    assert result.returncode == 0, result.stderr
