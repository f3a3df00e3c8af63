"""Fixtures for flowbuilder-distributed: a private redis-server, worker processes, the CLI.

* ``redis_url`` — a redis-server of this test's own on a free port of 127.0.0.1 (no
  persistence, its own temp dir), stopped afterwards. Never the machine's Redis.
* ``workers`` — starts ``flowbuilder worker`` processes against it (``workers.start(...)``)
  and kills whatever is left at the end, by PID (:mod:`worker_processes`).
* ``scratch`` — a working folder for runs and worker logs.
* ``bus_redis`` / ``bus_url`` — one redis-server per test process for the bus tests, each test
  in a namespace of its own; ``own_redis`` — a server of one test alone, to kill or restart.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper modules beside this file (import mode importlib)

from bus_redis_server import BusRedisServer
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


@pytest.fixture(scope="session")
def bus_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusRedisServer]:
    """One redis-server for this test process's bus tests; each test uses a namespace of its own."""
    server = BusRedisServer(tmp_path_factory.mktemp("bus-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bus_url(bus_redis: BusRedisServer) -> str:
    """A bus URL on the shared server with a fresh namespace: nothing another test wrote is seen."""
    return f"{bus_redis.url}?namespace=t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[BusRedisServer]:
    """A redis-server of this test alone (to kill or restart)."""
    server = BusRedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
