"""Core's ``memory://`` store passes the Store contract like any other store."""

from __future__ import annotations

import uuid
from typing import Callable, Iterator

import pytest

from flowbuilder.interfaces import Store
from flowbuilder.stores.memory import MemoryStore
from flowbuilder_contracts import StoreContract


@pytest.fixture
def memory_url() -> Iterator[str]:
    url = f"memory://contract-{uuid.uuid4().hex}"
    yield url
    MemoryStore.forget(url)


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self, memory_url: str) -> Iterator[Store]:
        store = MemoryStore.open(memory_url)
        yield store
        store.close()

    @pytest.fixture
    def reopen_store(self, memory_url: str) -> Callable[[Store], Store]:
        def reopen(old: Store) -> Store:
            old.close()
            return MemoryStore.open(memory_url)

        return reopen
