"""Crash tests with real processes (see crash_harness.py): SIGKILL, resume, nothing recorded twice.

The default suite kills 3 times per backend to stay quick; set FLOWBUILDER_CRASH_KILLS=50
for the full version (or run crash_harness.py directly).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from crash_harness import run_crash_test

from flowbuilder_contracts.redis_server import RedisServer

KILLS = int(os.environ.get("FLOWBUILDER_CRASH_KILLS", "3"))


def test_runs_killed_and_resumed_on_rocksdb_record_each_task_succeeded_once(tmp_path: Path) -> None:
    report = run_crash_test(f"rocksdb://{tmp_path}/store", tmp_path, KILLS, seed=7)
    assert report.kills == KILLS and report.runs >= 1


def test_runs_killed_and_resumed_on_redis_with_a_redis_restart_record_each_task_succeeded_once(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True)  # AOF on, appendfsync always
    server.start()

    def restart() -> None:
        time.sleep(0.3)
        server.stop(kill=True)
        time.sleep(0.5)
        server.start()

    try:
        report = run_crash_test(server.url, tmp_path, KILLS, seed=11, restart_redis=restart)
    finally:
        server.stop()
    assert report.kills == KILLS and report.redis_restarted
