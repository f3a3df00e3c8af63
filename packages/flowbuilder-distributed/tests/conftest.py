"""Fixtures for flowbuilder-distributed: a private redis-server, worker processes, the CLI.

* ``redis_url`` — a redis-server of this test's own on a free port of 127.0.0.1 (no
  persistence, its own temp dir), stopped afterwards. Never the machine's Redis.
* ``workers`` — starts ``flowbuilder worker`` processes against it (``workers.start(...)``)
  and kills whatever is left at the end, by PID (:mod:`worker_processes`).
* ``scratch`` — a working folder for runs and worker logs.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper modules beside this file (import mode importlib)

from worker_processes import RedisProcess, WorkerProcesses, free_port


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    return redis_server.url


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; `bash scripts/test` installs it (apt-get install redis-server)")
    port = free_port()
    directory = tmp_path / "redis"
    directory.mkdir()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
         "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"redis-server did not start on port {port}")
        time.sleep(0.02)
    yield RedisProcess(f"redis://127.0.0.1:{port}/0", process)
    process.kill()
    process.wait(timeout=10)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    return folder


@pytest.fixture
def workers(redis_url: str, scratch: Path) -> Iterator[WorkerProcesses]:
    processes = WorkerProcesses(redis_url, scratch)
    yield processes
    processes.stop_all()
