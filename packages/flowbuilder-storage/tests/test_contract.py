"""Both stores pass core's Store contract, unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from flowbuilder.interfaces.store import Store
from flowbuilder_contracts import StoreContract
from flowbuilder_storage import RedisStore, RocksDBStore


class TestRocksDBStoreContract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        store = RocksDBStore.open(f"rocksdb://{tmp_path}/db")
        yield store
        store.close()

    @pytest.fixture
    def reopen_store(self, tmp_path: Path) -> Callable[[Store], Store]:
        def reopen(old: Store) -> Store:
            old.close()
            return RocksDBStore.open(f"rocksdb://{tmp_path}/db")

        return reopen


class TestRedisStoreContract(StoreContract):
    @pytest.fixture
    def store(self, redis_url: str) -> Iterator[Store]:
        store = RedisStore.open(redis_url)
        yield store
        store.close()

    @pytest.fixture
    def reopen_store(self, redis_url: str) -> Callable[[Store], Store]:
        def reopen(old: Store) -> Store:
            old.close()
            return RedisStore.open(redis_url)

        return reopen


class TestRoutedRocksDBStoreContract(StoreContract):
    """The same contract for a process that routes every call to another process owning the store."""

    @pytest.fixture
    def owner(self, tmp_path: Path) -> Iterator[str]:
        url = f"rocksdb://{tmp_path}/db"
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("store_worker.py")), "hold", url, "300"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield url
        process.kill()
        process.wait()

    @pytest.fixture
    def store(self, owner: str) -> Iterator[Store]:
        store = RocksDBStore.open(owner)
        assert not store.is_owner
        yield store
        store.close()

    @pytest.fixture
    def reopen_store(self, owner: str) -> Callable[[Store], Store]:
        def reopen(old: Store) -> Store:
            old.close()
            return RocksDBStore.open(owner)

        return reopen
