"""The ConsensusEngine contract: what every :class:`flowbuilder.interfaces.ConsensusEngine` must do.

Subclass :class:`ConsensusEngineContract` and give it one fixture, ``make_engine``: a
callable ``make_engine(node_id) -> ConsensusEngine`` returning a *started* engine of a
one-node cluster (for Raft: a cluster whose only member is this node, on a free port). The
fixture should stop every engine it made when the test ends (stopping twice is allowed, so
the contract's own ``stop`` calls do not get in the way). Multi-node behaviour (failover,
partitions) belongs in the implementation's own tests.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import pytest

from flowbuilder.interfaces.consensus import ConsensusEngine
from flowbuilder_contracts._audit import Contract, audit_implementation

LEADERSHIP_TIMEOUT = 30.0
"""Seconds a one-node cluster may take to elect itself."""

MakeEngine = Callable[[str], ConsensusEngine]


class ConsensusEngineContract(Contract):
    """Abstract tests for a ConsensusEngine; provide ``make_engine``."""

    __contract__ = True

    @pytest.fixture
    def make_engine(self) -> MakeEngine:
        raise NotImplementedError("a ConsensusEngineContract subclass must define a `make_engine` fixture")

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_a_consensus_engine_with_a_name(self, make_engine: MakeEngine) -> None:
        engine = make_engine("node-a")
        assert isinstance(engine, ConsensusEngine)
        assert isinstance(type(engine).name, str) and type(engine).name
        assert engine.node_id == "node-a"

    def test_a_single_node_becomes_leader(self, make_engine: MakeEngine) -> None:
        engine = make_engine("node-a")
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        assert engine.is_leader()

    def test_leader_names_the_single_node(self, make_engine: MakeEngine) -> None:
        engine = make_engine("node-a")
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        assert engine.leader() == "node-a"

    def test_start_is_idempotent(self, make_engine: MakeEngine) -> None:
        engine = make_engine("node-a")
        engine.start()
        engine.start()
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        assert engine.leader() == "node-a"

    def test_stop_is_idempotent(self, make_engine: MakeEngine) -> None:
        engine = make_engine("node-a")
        engine.stop()
        engine.stop()

    def test_a_stopped_engine_does_not_lead(self, make_engine: MakeEngine) -> None:
        engine = make_engine("node-a")
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        engine.stop()
        assert not engine.is_leader()

    def test_the_hook_collects_the_engine_by_name_without_a_warning(self, make_engine: MakeEngine) -> None:
        """``flowbuilder_consensus_engines`` is how ``scheduler --consensus NAME`` finds the engine."""
        import warnings

        from flowbuilder import hookimpl
        from flowbuilder.config import Settings
        from flowbuilder.plugins import build_plugin_host

        engine_class = type(make_engine("node-a"))

        @hookimpl
        def flowbuilder_consensus_engines() -> list[Any]:
            return [engine_class]

        host = build_plugin_host(Settings(), entry_points=[])
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            host.register(SimpleNamespace(flowbuilder_consensus_engines=flowbuilder_consensus_engines), name="engine")
        assert host.consensus_engine_classes() == {engine_class.name: engine_class}

    def test_stop_releases_the_node_so_it_can_start_again(self, make_engine: MakeEngine) -> None:
        first = make_engine("node-a")
        assert first.wait_for_leadership(LEADERSHIP_TIMEOUT)
        first.stop()
        second = make_engine("node-a")
        assert second.wait_for_leadership(LEADERSHIP_TIMEOUT)
        assert second.leader() == "node-a"

    # -- fencing tokens (issue 12.3) --------------------------------------------------------

    def test_the_leader_has_a_fencing_token_that_holds_while_it_leads(self, make_engine: MakeEngine) -> None:
        engine = make_engine("node-a")
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        token = engine.fencing_token()
        assert isinstance(token, int) and not isinstance(token, bool) and 0 <= token <= (1 << 63) - 1
        assert engine.fencing_token() == token

    def test_a_node_that_does_not_lead_has_no_fencing_token(self, make_engine: MakeEngine) -> None:
        engine = make_engine("node-a")
        assert engine.wait_for_leadership(LEADERSHIP_TIMEOUT)
        engine.stop()
        assert engine.fencing_token() is None

    def test_a_new_leadership_has_a_greater_fencing_token(self, make_engine: MakeEngine) -> None:
        """The store refuses the older one's appends only if every change of leader raises the token."""
        first = make_engine("node-a")
        assert first.wait_for_leadership(LEADERSHIP_TIMEOUT)
        before = first.fencing_token()
        first.stop()
        second = make_engine("node-b")
        assert second.wait_for_leadership(LEADERSHIP_TIMEOUT)
        after = second.fencing_token()
        assert before is not None and after is not None and after > before
        second.stop()
        third = make_engine("node-a")  # the same node again: a new leadership all the same
        assert third.wait_for_leadership(LEADERSHIP_TIMEOUT)
        again = third.fencing_token()
        assert again is not None and again > after


__all__ = ["ConsensusEngineContract", "LEADERSHIP_TIMEOUT", "MakeEngine"]
