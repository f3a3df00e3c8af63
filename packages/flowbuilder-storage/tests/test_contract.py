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


@pytest.fixture(scope="module")
def owner_process() -> Iterator[subprocess.Popen[str]]:
    """One process owns every routed test's store in turn (``store_worker.py owner``): a
    process per test spent about a second of each test starting Python and importing the store."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("store_worker.py")), "owner"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    yield process
    process.kill()
    process.wait()


class TestRoutedRocksDBStoreContract(StoreContract):
    """The same contract for a process that routes every call to another process owning the store."""

    @pytest.fixture
    def owner(self, owner_process: subprocess.Popen[str], tmp_path: Path) -> str:
        """A fresh store of this test's own, opened (and so owned) by the owner process."""
        assert owner_process.stdin is not None and owner_process.stdout is not None
        url = f"rocksdb://{tmp_path}/db"
        owner_process.stdin.write(url + "\n")
        owner_process.stdin.flush()
        answer = owner_process.stdout.readline().strip()
        assert answer == "ready", f"the owner process did not open {url} (exit {owner_process.poll()})"
        return url

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
