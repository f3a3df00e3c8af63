"""The ConsensusEngine contract: what every :class:`flowbuilder.interfaces.ConsensusEngine` must do.

Subclass :class:`ConsensusEngineContract` and give it its fixtures:

* ``make_engine``: a callable ``make_engine(node_id) -> ConsensusEngine`` returning a
  *started* engine of a one-node cluster (for Raft: a cluster whose only member is this
  node). The fixture should stop every engine it made when the test ends (stopping twice is
  allowed, so the contract's own ``stop`` calls do not get in the way).
* ``node_id`` (optional): the id the single-node tests pass to ``make_engine``; default
  ``"node-a"``. Raft overrides it with a free ``HOST:PORT``, its ids being addresses.
* ``make_cluster`` (multi-node cases): ``make_cluster(size) -> list[ConsensusEngine]``, the
  *started* members of one cluster of ``size`` nodes; and ``cut_off``:
  ``cut_off(members, engine) -> float`` separates ``engine`` from its quorum (Raft: stops the
  other members; the ``store`` engine: its store becomes unreachable) and returns the bound,
  in seconds from that moment, within which the engine promises to stop counting itself
  leader. An engine that cannot form a cluster sets :attr:`ConsensusEngineContract.single_node_only`
  to the reason instead: its multi-node cases are skipped with that reason, never silently.

Version :data:`CONSENSUS_CONTRACT_VERSION`. Failover and partitions between processes
belong in the implementation's own tests.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, Callable, ClassVar

import pytest

from flowbuilder.interfaces.consensus import ConsensusEngine
from flowbuilder_contracts._audit import Contract, audit_implementation

CONSENSUS_CONTRACT_VERSION = 2
"""2: fencing tokens, the ``node_id`` fixture, the multi-node cases (``make_cluster``, ``cut_off``,
or ``single_node_only``). 1: the single-node cases."""

LEADERSHIP_TIMEOUT = 30.0
"""Seconds a one-node cluster may take to elect itself (a cluster: to elect one leader)."""
CLUSTER_SIZE = 3
"""Members of the clusters the multi-node cases make."""

MakeEngine = Callable[[str], ConsensusEngine]
MakeCluster = Callable[[int], list[ConsensusEngine]]
CutOff = Callable[[list[ConsensusEngine], ConsensusEngine], float]


def wait_for_one_leader(members: list[ConsensusEngine], timeout: float = LEADERSHIP_TIMEOUT,
                        *, among: list[ConsensusEngine] | None = None) -> ConsensusEngine:  # fmt: skip
    """The one member of ``among`` (default: all) that leads while no other member does, within ``timeout``."""
    candidates = members if among is None else among
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leading = [engine for engine in members if engine.is_leader()]
        if len(leading) == 1 and leading[0] in candidates:
            return leading[0]
        time.sleep(0.02)
    raise AssertionError(f"no single leader within {timeout} s: {[(e.node_id, e.is_leader()) for e in members]}")


class ConsensusEngineContract(Contract):
    """Abstract tests for a ConsensusEngine; provide ``make_engine``."""

    __contract__ = True

    single_node_only: ClassVar[str | None] = None
    """Why this engine has no multi-node cases (None: it provides ``make_cluster`` and ``cut_off``)."""

    @pytest.fixture
    def make_engine(self) -> MakeEngine:
        raise NotImplementedError("a ConsensusEngineContract subclass must define a `make_engine` fixture")

    @pytest.fixture
    def node_id(self) -> str:
        return "node-a"

    @pytest.fixture
    def make_cluster(self) -> MakeCluster:
        self._multi_node()
        raise NotImplementedError("define a `make_cluster` fixture, or set `single_node_only` to the reason why not")

    @pytest.fixture
    def cut_off(self) -> CutOff:
        self._multi_node()
        raise NotImplementedError("define a `cut_off` fixture, or set `single_node_only` to the reason why not")

    def _multi_node(self) -> None:
        if self.single_node_only is not None:
            pytest.skip(f"{type(self).__name__} is single-node only: {self.single_node_only}")

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_a_consensus_engine_with_a_name(self, make_engine: MakeEngine, node_id: str) -> None:
        engine = make_engine(node_id)
        assert isinstance(engine, ConsensusEngine)
        assert isinstance(type(engine).name, str) and type(engine).name
        assert engine.node_id == node_id

    def test_a_single_node_becomes_leader(self, make_engine: MakeEngine, node_id: str) -> None:
        engine = make_engine(node_id)
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        assert engine.is_leader()

    def test_leader_names_the_single_node(self, make_engine: MakeEngine, node_id: str) -> None:
        engine = make_engine(node_id)
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        assert engine.leader() == node_id

    def test_start_is_idempotent(self, make_engine: MakeEngine, node_id: str) -> None:
        engine = make_engine(node_id)
        engine.start()
        engine.start()
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        assert engine.leader() == node_id

    def test_stop_is_idempotent(self, make_engine: MakeEngine, node_id: str) -> None:
        engine = make_engine(node_id)
        engine.stop()
        engine.stop()

    def test_a_stopped_engine_does_not_lead(self, make_engine: MakeEngine, node_id: str) -> None:
        engine = make_engine(node_id)
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        engine.stop()
        assert not engine.is_leader()

    def test_the_hook_collects_the_engine_by_name_without_a_warning(self, make_engine: MakeEngine,
                                                                    node_id: str) -> None:  # fmt: skip
        """``flowbuilder_consensus_engines`` is how ``scheduler --consensus NAME`` finds the engine."""
        import warnings

        from flowbuilder import hookimpl
        from flowbuilder.config import Settings
        from flowbuilder.plugins import build_plugin_host

        engine_class = type(make_engine(node_id))

        @hookimpl
        def flowbuilder_consensus_engines() -> list[Any]:
            return [engine_class]

        host = build_plugin_host(Settings(), entry_points=[])
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            host.register(SimpleNamespace(flowbuilder_consensus_engines=flowbuilder_consensus_engines), name="engine")
        assert host.consensus_engine_classes() == {engine_class.name: engine_class}

    def test_stop_releases_the_node_so_it_can_start_again(self, make_engine: MakeEngine, node_id: str) -> None:
        first = make_engine(node_id)
        assert first.wait_for_leadership(LEADERSHIP_TIMEOUT)
        first.stop()
        second = make_engine(node_id)
        assert second.wait_for_leadership(LEADERSHIP_TIMEOUT)
        assert second.leader() == node_id

    # -- fencing tokens (version 2) ----------------------------------------------------------

    def test_a_leader_holds_an_integer_fencing_token(self, make_engine: MakeEngine, node_id: str) -> None:
        engine = make_engine(node_id)
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        token = engine.fencing_token()
        assert isinstance(token, int) and not isinstance(token, bool)

    def test_a_stopped_engine_holds_no_fencing_token(self, make_engine: MakeEngine, node_id: str) -> None:
        engine = make_engine(node_id)
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        engine.stop()
        assert engine.fencing_token() is None

    # -- a cluster (version 2; skipped, with the reason, for single-node engines) -----------

    def test_a_cluster_elects_one_leader_that_every_member_names(self, make_cluster: MakeCluster) -> None:
        """An observer (a member that does not lead) learns who does."""
        self._multi_node()
        members = make_cluster(CLUSTER_SIZE)
        leader = wait_for_one_leader(members)
        deadline = time.monotonic() + LEADERSHIP_TIMEOUT
        while time.monotonic() < deadline and any(member.leader() != leader.node_id for member in members):
            time.sleep(0.02)
        assert [member.leader() for member in members] == [leader.node_id] * len(members)
        assert sum(member.is_leader() for member in members) == 1

    def test_members_that_do_not_lead_hold_no_fencing_token(self, make_cluster: MakeCluster) -> None:
        self._multi_node()
        members = make_cluster(CLUSTER_SIZE)
        leader = wait_for_one_leader(members)
        assert isinstance(leader.fencing_token(), int)
        assert [member.fencing_token() for member in members if member is not leader] == [None] * (len(members) - 1)

    def test_the_fencing_token_grows_when_the_leader_changes(self, make_cluster: MakeCluster) -> None:
        self._multi_node()
        members = make_cluster(CLUSTER_SIZE)
        first = wait_for_one_leader(members)
        first_token = first.fencing_token()
        assert first_token is not None
        first.stop()
        rest = [member for member in members if member is not first]
        second = wait_for_one_leader(rest)
        second_token = second.fencing_token()
        assert second is not first and second_token is not None and second_token > first_token

    def test_at_most_one_member_leads_with_each_fencing_token(self, make_cluster: MakeCluster) -> None:
        """Watched through a change of leader: no token is ever claimed by two members."""
        self._multi_node()
        members = make_cluster(CLUSTER_SIZE)
        first = wait_for_one_leader(members)
        claims: dict[int, set[str]] = {}

        def look() -> None:
            for member in members:
                token = member.fencing_token()
                if token is not None:
                    claims.setdefault(token, set()).add(member.node_id)

        look()
        first.stop()
        rest = [member for member in members if member is not first]
        deadline = time.monotonic() + LEADERSHIP_TIMEOUT
        while time.monotonic() < deadline and sum(member.is_leader() for member in rest) != 1:
            look()
            time.sleep(0.01)
        look()
        assert len(claims) >= 2
        assert all(len(nodes) == 1 for nodes in claims.values()), claims

    def test_a_leader_cut_off_from_its_quorum_steps_down_within_its_bound(self, make_cluster: MakeCluster,
                                                                          cut_off: CutOff) -> None:  # fmt: skip
        self._multi_node()
        members = make_cluster(CLUSTER_SIZE)
        leader = wait_for_one_leader(members)
        bound = cut_off(members, leader)
        assert 0 < bound < LEADERSHIP_TIMEOUT
        time.sleep(bound)
        assert not leader.is_leader()
        assert leader.fencing_token() is None

    # -- fencing tokens across restarts (version 2) -----------------------------------------

    def test_a_new_leadership_has_a_greater_fencing_token(self, make_engine: MakeEngine, node_id: str) -> None:
        """The store refuses the older one's appends only if every change of leader raises the token.

        For an engine that forms clusters, test_the_fencing_token_grows_when_the_leader_changes
        covers it between members; here a single-node engine restarted on the same store must
        lead with a greater token than before (the older process may still be writing).
        """
        if self.single_node_only is None:
            pytest.skip("a cluster engine: test_the_fencing_token_grows_when_the_leader_changes covers it")
        first = make_engine(node_id)
        assert first.wait_for_leadership(LEADERSHIP_TIMEOUT)
        before = first.fencing_token()
        first.stop()
        again = make_engine(node_id)
        assert again.wait_for_leadership(LEADERSHIP_TIMEOUT)
        after = again.fencing_token()
        assert before is not None and after is not None and after > before


__all__ = [
    "CLUSTER_SIZE",
    "CONSENSUS_CONTRACT_VERSION",
    "ConsensusEngineContract",
    "CutOff",
    "LEADERSHIP_TIMEOUT",
    "MakeCluster",
    "MakeEngine",
    "wait_for_one_leader",
]
