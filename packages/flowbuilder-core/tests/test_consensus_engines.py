"""Core's consensus engines pass the ConsensusEngine contract; two ``store`` engines elect one leader."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from flowbuilder.consensus import NoOpConsensus, StoreLeaseConsensus
from flowbuilder.interfaces import ConsensusEngine
from flowbuilder.interfaces.coordination import LeaseGrant
from flowbuilder.stores.memory import MemoryStore
from flowbuilder_contracts import ConsensusEngineContract


class TestNoOpConsensus(ConsensusEngineContract):
    single_node_only = "noop makes every node leader: two noop engines are two clusters of one"

    @pytest.fixture
    def make_engine(self) -> Iterator[Callable[[str], ConsensusEngine]]:
        made: list[ConsensusEngine] = []

        def make(node_id: str) -> ConsensusEngine:
            engine = NoOpConsensus.for_store(node_id, MemoryStore.open("memory://noop"))
            engine.start()
            made.append(engine)
            return engine

        yield make
        for engine in made:
            engine.stop()


class TestStoreLeaseConsensus(ConsensusEngineContract):
    @pytest.fixture
    def make_engine(self) -> Iterator[Callable[[str], ConsensusEngine]]:
        url = f"memory://lease-{uuid.uuid4().hex}"
        made: list[ConsensusEngine] = []

        def make(node_id: str) -> ConsensusEngine:
            engine = StoreLeaseConsensus.for_store(node_id, MemoryStore.open(url), lease_seconds=1.0)
            engine.start()
            made.append(engine)
            return engine

        yield make
        for engine in made:
            engine.stop()
        MemoryStore.forget(url)

    @pytest.fixture
    def make_cluster(self) -> Iterator[Callable[[int], list[ConsensusEngine]]]:
        """Members sharing one memory store, each through its own connection (a FailingStore)."""
        url = f"memory://cluster-{uuid.uuid4().hex}"
        made: list[ConsensusEngine] = []

        def make(size: int) -> list[ConsensusEngine]:
            members = [StoreLeaseConsensus.for_store(f"node-{i}", FailingStore(url), lease_seconds=1.0)
                       for i in range(size)]  # fmt: skip
            for member in members:
                member.start()
            made.extend(members)
            return members

        yield make
        for engine in made:
            engine.stop()
        MemoryStore.forget(url)

    @pytest.fixture
    def cut_off(self) -> Callable[[list[ConsensusEngine], ConsensusEngine], float]:
        """The store is the quorum: the member's connection to it breaks; it leads until its lease would expire."""

        def cut(members: list[ConsensusEngine], engine: ConsensusEngine) -> float:
            assert isinstance(engine, StoreLeaseConsensus) and isinstance(engine.store, FailingStore)
            engine.store.broken = True
            return engine.lease_seconds

        return cut


@pytest.fixture
def shared_store() -> Iterator[MemoryStore]:
    url = f"memory://elect-{uuid.uuid4().hex}"
    yield MemoryStore.open(url)
    MemoryStore.forget(url)


def test_two_store_engines_on_one_store_elect_exactly_one_leader(shared_store: MemoryStore) -> None:
    first = StoreLeaseConsensus.for_store("node-a", shared_store, lease_seconds=1.0)
    second = StoreLeaseConsensus.for_store("node-b", shared_store, lease_seconds=1.0)
    first.start()
    second.start()
    try:
        assert first.wait_for_leadership(5)
        assert not second.wait_for_leadership(1.5)  # renewals keep it: the standby never gets in
        assert second.leader() == "node-a" and first.leader() == "node-a"
    finally:
        second.stop()
        first.stop()


def test_a_stopped_leader_releases_the_lease_and_the_standby_takes_over(shared_store: MemoryStore) -> None:
    first = StoreLeaseConsensus.for_store("node-a", shared_store, lease_seconds=30.0)
    second = StoreLeaseConsensus.for_store("node-b", shared_store, lease_seconds=0.6)
    first.start()
    second.start()
    try:
        assert first.is_leader() and not second.is_leader()
        first.stop()
        assert second.wait_for_leadership(5)  # within a renewal period, not the 30 s TTL
    finally:
        second.stop()


def test_the_store_engines_token_is_the_leases_epoch_and_grows_when_the_standby_takes_over(
    shared_store: MemoryStore,
) -> None:
    first = StoreLeaseConsensus.for_store("node-a", shared_store, lease_seconds=30.0)
    second = StoreLeaseConsensus.for_store("node-b", shared_store, lease_seconds=0.6)
    first.start()
    second.start()
    try:
        token = first.fencing_token()
        assert token == shared_store.acquire_lease_epoch("scheduler", "node-a", 30.0).epoch
        assert second.fencing_token() is None  # a standby has none, though it knows the leader
        first.stop()
        assert second.wait_for_leadership(5)
        taken = second.fencing_token()
        assert taken is not None and token is not None and taken > token and first.fencing_token() is None
    finally:
        second.stop()


def test_a_leader_that_stops_renewing_is_replaced_after_its_lease_expires(shared_store: MemoryStore) -> None:
    """A leader that died (no renewal, no release) loses the lease at expiry, not before."""
    shared_store.acquire_lease("scheduler", "dead-node", 1.0)
    standby = StoreLeaseConsensus.for_store("node-b", shared_store, lease_seconds=0.6)
    standby.start()
    try:
        assert not standby.is_leader() and standby.leader() == "dead-node"
        started = time.monotonic()
        assert standby.wait_for_leadership(5)
        assert time.monotonic() - started > 0.3
    finally:
        standby.stop()


def test_the_store_engine_needs_a_store_and_a_positive_lease() -> None:
    from flowbuilder.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="needs the shared store"):
        StoreLeaseConsensus("node-a")
    with pytest.raises(ConfigurationError, match="more than 0 seconds"):
        StoreLeaseConsensus.for_store("node-a", MemoryStore.open("memory://x"), lease_seconds=0)


def test_core_registers_its_engines_by_name() -> None:
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    engines = build_plugin_host(Settings()).consensus_engine_classes()
    assert engines["store"] is StoreLeaseConsensus and engines["noop"] is NoOpConsensus


class FailingStore(MemoryStore):
    """A memory store whose lease calls fail once ``broken`` is set (a lost connection)."""

    broken = False

    def acquire_lease_epoch(self, name: str, owner: str, ttl: float) -> LeaseGrant:
        if self.broken:
            from flowbuilder.errors import StoreError

            raise StoreError("connection lost")
        return super().acquire_lease_epoch(name, owner, ttl)


def test_a_leader_cut_off_from_the_store_steps_down_when_its_lease_would_expire() -> None:
    """It cannot renew, so a standby may take over at expiry: by then it must no longer lead."""
    url = f"memory://cut-{uuid.uuid4().hex}"
    store = FailingStore(url)
    engine = StoreLeaseConsensus.for_store("node-a", store, lease_seconds=0.6)
    engine.start()
    try:
        assert engine.is_leader() and engine.fencing_token() is not None
        store.broken = True
        time.sleep(1.0)
        assert not engine.is_leader() and engine.fencing_token() is None
    finally:
        engine.stop()
        MemoryStore.forget(url)
