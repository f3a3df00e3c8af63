"""The raft engine's own rules: its address, its secret, its term across restarts, its errors."""

from __future__ import annotations

import os
import pickle
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces import ClusterConfig
from flowbuilder.stores.memory import MemoryStore
from flowbuilder_distributed.raft import RaftConsensus, RaftTiming

TIMING = RaftTiming(election_timeout=0.5)
LEADERSHIP_TIMEOUT = 30.0


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def leader() -> Iterator[RaftConsensus]:
    engine = RaftConsensus(free_address(), timing=TIMING)
    engine.start()
    try:
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        yield engine
    finally:
        engine.stop()


def port_of(engine: RaftConsensus) -> int:
    return int(engine.node_id.rpartition(":")[2])


def test_it_listens_on_its_own_address_only(leader: RaftConsensus) -> None:
    """pysyncobj binds 0.0.0.0 unless told otherwise: another loopback address must be refused."""
    with socket.create_connection(("127.0.0.1", port_of(leader)), timeout=5):
        pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", port_of(leader)), timeout=5).close()


class Exploit:
    """Unpickling this creates a file: proof that a payload ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_sent_to_the_port_is_never_unpickled(leader: RaftConsensus, tmp_path: Path) -> None:
    """Without the secret, a framed pickle (pysyncobj's wire format) is dropped, not executed."""
    marker = tmp_path / "exploited"
    payload = zlib.compress(pickle.dumps(Exploit(marker)))
    with socket.create_connection(("127.0.0.1", port_of(leader)), timeout=5) as connection:
        for _ in range(3):
            try:
                connection.sendall(struct.pack("i", len(payload)) + payload)
            except OSError:  # it hung up on us: that is the point
                break
            time.sleep(0.2)
    time.sleep(0.5)
    assert not marker.exists()
    assert leader.is_leader()


def test_garbage_on_the_port_leaves_the_leader_leading(leader: RaftConsensus) -> None:
    with socket.create_connection(("127.0.0.1", port_of(leader)), timeout=5) as connection:
        try:
            connection.sendall(b"\xff" * 4 + os.urandom(65536))
        except OSError:
            pass
    time.sleep(0.5)
    assert leader.is_leader()


def test_a_multi_member_cluster_without_a_secret_is_refused() -> None:
    members = ("127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003")
    with pytest.raises(ConfigurationError, match=r"needs a shared secret.*FLOWBUILDER_CLUSTER_SECRET"):
        RaftConsensus(members[0], ClusterConfig(node=members[0], members=members))


def test_the_term_survives_a_restart_with_a_state_dir(tmp_path: Path) -> None:
    """With a state folder, a restarted node leads with a greater token than before."""
    address = free_address()
    cluster = ClusterConfig(node=address, members=(address,), state_dir=tmp_path / "raft")
    tokens = []
    for _ in range(2):
        engine = RaftConsensus(address, cluster, timing=TIMING)
        engine.start()
        try:
            assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
            tokens.append(engine.fencing_token())
        finally:
            engine.stop()
    assert tokens[0] is not None and tokens[1] is not None and tokens[1] > tokens[0]


def test_a_port_in_use_is_a_configuration_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        engine = RaftConsensus(address, timing=TIMING)
        with pytest.raises(ConfigurationError, match="cannot listen on"):
            engine.start()
        engine.stop()


@pytest.mark.parametrize("address", ["7001", "host:", ":7001", "h:0", "h:70000", "h:x1", "a b:1"])
def test_a_bad_address_is_named(address: str) -> None:
    with pytest.raises(ConfigurationError, match="bad cluster address"):
        RaftConsensus(address)


def test_for_store_needs_the_cluster_and_builds_its_node() -> None:
    store = MemoryStore.open("memory://raft-for-store")
    with pytest.raises(ConfigurationError, match="needs its cluster: --cluster"):
        RaftConsensus.for_store("127.0.0.1:7001", store)
    members = ("127.0.0.1:7001", "127.0.0.1:7002")
    cluster = ClusterConfig(node=members[1], members=members, secret="s")  # noqa: S106 - a test value
    engine = RaftConsensus.for_store("ignored", store, cluster=cluster)
    assert engine.node_id == "127.0.0.1:7002" and not engine.is_leader() and engine.fencing_token() is None


def test_the_plugin_registers_raft() -> None:
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    assert build_plugin_host(Settings()).consensus_engine_classes()["raft"] is RaftConsensus
