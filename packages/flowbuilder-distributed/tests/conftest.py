from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bus_redis_server import BusRedisServer


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
