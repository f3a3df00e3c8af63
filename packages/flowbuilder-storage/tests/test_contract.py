"""Both stores pass core's Store contract, unchanged."""

from __future__ import annotations

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
