"""Fixtures: a real ``flowbuilder serve`` on RocksDB (tmp_path) or on a redis-server of the test's own;
a memory store and the audit writer over it, for the security tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # helper modules beside this file (import mode importlib)

from serve_process import ServeProcess

from flowbuilder.stores.memory import MemoryStore
from flowbuilder_contracts.redis_server import RedisServer
from flowui.security import AuditWriter


@pytest.fixture(params=["rocksdb", "redis"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServeProcess]:
    redis: RedisServer | None = None
    if request.param == "redis":
        redis = RedisServer(tmp_path / "redis").start()
        store_url = redis.url
    else:
        store_url = f"rocksdb://{tmp_path / 'store'}"
    served = ServeProcess(store_url, tmp_path)
    yield served
    served.stop()
    if redis is not None:
        redis.stop(kill=True)


@pytest.fixture
def rocksdb_server(tmp_path: Path) -> Iterator[ServeProcess]:
    served = ServeProcess(f"rocksdb://{tmp_path / 'store'}", tmp_path)
    yield served
    served.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    """A memory store of the test's own (the audit log's home)."""
    url = f"memory://{tmp_path}"
    yield MemoryStore.open(url)
    MemoryStore.forget(url)


@pytest.fixture
def writer(store: MemoryStore) -> Iterator[AuditWriter]:
    """The audit writer over ``store``, closed after the test."""
    writer = AuditWriter(store)
    yield writer
    writer.close()
