"""``raft`` passes the ConsensusEngine contract: one-node clusters and three-node clusters in one process.

Node ids are addresses, so ``node_id`` is a free port of 127.0.0.1. The cluster members
tick on their own threads and talk over real sockets, encrypted with a shared secret.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from flowbuilder.interfaces import ClusterConfig, ConsensusEngine
from flowbuilder_contracts import ConsensusEngineContract
from flowbuilder_distributed.raft import RaftConsensus, RaftTiming

TIMING = RaftTiming(election_timeout=0.5)
SECRET = "contract"  # noqa: S105 - the test cluster's own secret


def free_addresses(count: int) -> list[str]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{probe.getsockname()[1]}" for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


class TestRaftConsensus(ConsensusEngineContract):
    @pytest.fixture
    def node_id(self) -> str:
        return free_addresses(1)[0]

    @pytest.fixture
    def make_engine(self) -> Iterator[Callable[[str], ConsensusEngine]]:
        made: list[ConsensusEngine] = []

        def make(node_id: str) -> ConsensusEngine:
            engine = RaftConsensus(node_id, timing=TIMING)
            engine.start()
            made.append(engine)
            return engine

        yield make
        for engine in made:
            engine.stop()

    @pytest.fixture
    def make_cluster(self) -> Iterator[Callable[[int], list[ConsensusEngine]]]:
        made: list[ConsensusEngine] = []

        def make(size: int) -> list[ConsensusEngine]:
            addresses = tuple(free_addresses(size))
            members: list[ConsensusEngine] = [
                RaftConsensus(address, ClusterConfig(node=address, members=addresses, secret=SECRET), timing=TIMING)
                for address in addresses
            ]
            for member in members:
                member.start()
            made.extend(members)
            return members

        yield make
        for engine in made:
            engine.stop()

    @pytest.fixture
    def cut_off(self) -> Callable[[list[ConsensusEngine], ConsensusEngine], float]:
        """Its quorum is the other members: they stop. It steps down within the timing's bound."""

        def cut(members: list[ConsensusEngine], engine: ConsensusEngine) -> float:
            for member in members:
                if member is not engine:
                    member.stop()
            assert isinstance(engine, RaftConsensus)
            return engine.timing.step_down_bound

        return cut
