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

import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper modules beside this file (import mode importlib)

from worker_processes import WorkerProcesses

from flowbuilder_contracts.redis_server import RedisServer


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (no persistence); a test may stop or kill it."""
    with RedisServer(tmp_path / "redis") as server:
        yield server


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
def bus_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for this test process's bus tests; each test uses a namespace of its own."""
    with RedisServer(tmp_path_factory.mktemp("bus-redis")) as server:
        yield server


@pytest.fixture
def bus_url(bus_redis: RedisServer) -> str:
    """A bus URL on the shared server with a fresh namespace: nothing another test wrote is seen."""
    return f"{bus_redis.url}?namespace=t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def own_redis(redis_server: RedisServer) -> RedisServer:
    """A redis-server of this test alone (to kill or restart): the test's ``redis_server``."""
    return redis_server
