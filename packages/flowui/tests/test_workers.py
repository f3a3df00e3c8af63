"""``flowbuilder serve --workers redis://...``: attempts of runs started through the API run in a
``flowbuilder worker`` process, not in the server."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from serve_process import FLOWBUILDER, ServeProcess
from test_serve_api import start, wait_status

from flowbuilder_contracts.redis_server import RedisServer

WHO_RUNS_ME = """\
name: where
tasks:
  - name: parent
    type: shell
    config: {command: "echo $PPID"}
"""


def test_attempts_go_to_the_workers(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    worker = subprocess.Popen([FLOWBUILDER, "worker", "--store", redis.url, "--lease", "2"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    server = ServeProcess(redis.url, tmp_path, "--workers", redis.url)
    try:
        run_id = start(server.client, WHO_RUNS_ME)
        shown = wait_status(server.client, run_id, "succeeded", timeout=60)
        assert shown["tasks"]["parent"]["output"] == str(worker.pid)
        assert server.terminate() == 0
    finally:
        server.stop()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        redis.stop(kill=True)
