"""The NodeAnnouncer contract: what every :class:`flowbuilder.interfaces.node_announcer.NodeAnnouncer` must do.

Subclass :class:`NodeAnnouncerContract` and give it one fixture:

* ``make_announcer``: a callable ``make_announcer(dead_after) -> NodeAnnouncer`` that opens
  the announcer under test with that ``dead_after`` (seconds). Every call within one test
  must reach the same fresh, empty registry (a Redis of the test's own, or a fresh prefix).
  The suite closes every announcer it opens.

The rules checked (version 1): an announced node is listed alive with its fields unchanged;
a heartbeat records the node's new role and keeps it alive; a node that stops heartbeating
is listed as not alive after ``dead_after``; announcing again replaces the entry; ``leave``
removes the node, is idempotent and a no-op before ``announce``; a heartbeat before
``announce`` or after ``leave`` raises ``NodeAnnouncerError``; invalid announcements (ids,
kinds, roles, labels, addresses: empty, huge, binary-looking, control characters) and
invalid heartbeat roles are refused with ``AnnouncementRejectedError`` and record nothing;
``close`` is idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Protocol

import pytest

from flowbuilder.interfaces.node_announcer import (
    AnnouncedNode,
    AnnouncementRejectedError,
    NodeAnnouncement,
    NodeAnnouncer,
    NodeAnnouncerError,
)
from flowbuilder_contracts._audit import Contract, audit_implementation

NODE_ANNOUNCER_CONTRACT_VERSION = 1
"""Raised when the suite's rules change, so an announcer plugin can say which version it passes."""
SHORT_DEAD_AFTER = 0.6
"""The ``dead_after`` of the ageing tests (seconds)."""
LONG_DEAD_AFTER = 60.0
"""The ``dead_after`` of the other tests: nothing ages out while they run."""

MakeAnnouncer = Callable[[float], NodeAnnouncer]


class OpenAnnouncer(Protocol):
    """What the suite's ``announcer`` fixture is: ``make_announcer`` with a long ``dead_after`` by default."""

    def __call__(self, dead_after: float = LONG_DEAD_AFTER) -> NodeAnnouncer: ...


def scheduler(node_id: str = "sched-1", role: str = "standby", **fields: object) -> NodeAnnouncement:
    """A scheduler's announcement with every field set (so a lost field shows)."""
    values: dict[str, object] = {"address": "127.0.0.1:7001", "pid": 4242, "labels": ("eu", "raft"),
                                 "started_at": 1_700_000_000.25, **fields}  # fmt: skip
    return NodeAnnouncement(node_id, "scheduler", role, **values)  # type: ignore[arg-type]


def listed(announcer: NodeAnnouncer, node_id: str) -> AnnouncedNode | None:
    return next((node for node in announcer.nodes() if node.announcement.id == node_id), None)


class NodeAnnouncerContract(Contract):
    """Abstract tests for a NodeAnnouncer; provide ``make_announcer``."""

    __contract__ = True

    @pytest.fixture
    def make_announcer(self) -> MakeAnnouncer:
        raise NotImplementedError("a NodeAnnouncerContract subclass must define a `make_announcer` fixture")

    @pytest.fixture
    def announcer(self, make_announcer: MakeAnnouncer) -> Iterator[OpenAnnouncer]:
        """``make_announcer``, closing every announcer it opened when the test ends."""
        opened: list[NodeAnnouncer] = []

        def open_announcer(dead_after: float = LONG_DEAD_AFTER) -> NodeAnnouncer:
            made = make_announcer(dead_after)
            opened.append(made)
            return made

        yield open_announcer
        for made in opened:
            made.close()

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_a_node_announcer_named_by_a_url_scheme(self, announcer: OpenAnnouncer) -> None:
        made = announcer()
        assert isinstance(made, NodeAnnouncer)
        assert isinstance(type(made).scheme, str) and type(made).scheme.isidentifier()

    def test_an_announced_node_is_listed_alive_with_its_fields_unchanged(self, announcer: OpenAnnouncer) -> None:
        made = announcer()
        sent = scheduler()
        made.announce(sent)
        found = listed(made, "sched-1")
        assert found is not None and found.alive
        assert found.announcement == sent
        assert abs(found.last_heartbeat - time.time()) < 60

    def test_a_heartbeat_records_the_new_role(self, announcer: OpenAnnouncer) -> None:
        made = announcer()
        made.announce(scheduler(role="standby"))
        made.heartbeat("leader")
        found = listed(made, "sched-1")
        assert found is not None and found.announcement.role == "leader"
        made.heartbeat()  # None: the role stays
        found = listed(made, "sched-1")
        assert found is not None and found.announcement.role == "leader" and found.alive

    def test_a_heartbeat_keeps_a_node_alive(self, announcer: OpenAnnouncer) -> None:
        made = announcer(SHORT_DEAD_AFTER)
        made.announce(scheduler())
        for _ in range(3):
            time.sleep(SHORT_DEAD_AFTER / 2)
            made.heartbeat()
        found = listed(made, "sched-1")
        assert found is not None and found.alive

    def test_a_node_that_stops_heartbeating_is_listed_as_not_alive(self, announcer: OpenAnnouncer) -> None:
        made = announcer(SHORT_DEAD_AFTER)
        made.announce(scheduler())
        time.sleep(SHORT_DEAD_AFTER + 0.4)
        found = listed(made, "sched-1")
        assert found is not None and not found.alive
        made.heartbeat()  # it was only silent, not gone: it comes back
        found = listed(made, "sched-1")
        assert found is not None and found.alive

    def test_announcing_again_replaces_the_entry(self, announcer: OpenAnnouncer) -> None:
        made = announcer()
        made.announce(scheduler(role="leader", address="127.0.0.1:7001"))
        restarted = scheduler(role="standby", address="127.0.0.1:7009", pid=99, labels=())
        made.announce(restarted)
        entries = [node for node in made.nodes() if node.announcement.id == "sched-1"]
        assert [node.announcement for node in entries] == [restarted]

    def test_leave_removes_the_node_and_is_idempotent(self, announcer: OpenAnnouncer) -> None:
        made = announcer()
        made.leave()  # before announce: nothing to do
        made.announce(scheduler())
        made.leave()
        assert listed(made, "sched-1") is None
        made.leave()
        assert listed(made, "sched-1") is None

    def test_a_heartbeat_before_announce_or_after_leave_is_refused(self, announcer: OpenAnnouncer) -> None:
        made = announcer()
        with pytest.raises(NodeAnnouncerError):
            made.heartbeat("leader")
        made.announce(scheduler())
        made.leave()
        with pytest.raises(NodeAnnouncerError):
            made.heartbeat()
        assert listed(made, "sched-1") is None  # the refused heartbeat did not bring it back

    @pytest.mark.parametrize(
        "bad",
        [
            {"node_id": ""},
            {"node_id": "x" * 201},
            {"node_id": "has space"},
            {"node_id": "\x00nul"},
            {"node_id": "caf\u00e9"},
            {"kind": "president"},
            {"role": "king"},
            {"labels": ("ok", "not ok")},
            {"labels": tuple(f"l{n}" for n in range(65))},
            {"address": "127.0.0.1:1\n2"},
            {"address": "h" * 301},
            {"pid": -1},
            {"started_at": float("nan")},
        ],
        ids=lambda bad: ",".join(bad),
    )
    def test_an_invalid_announcement_is_refused_and_records_nothing(self, announcer: OpenAnnouncer,
                                                                    bad: dict[str, object]) -> None:  # fmt: skip
        made = announcer()
        fields = dict(bad)
        node_id = str(fields.pop("node_id", "sched-bad"))
        kind = str(fields.pop("kind", "scheduler"))
        role = str(fields.pop("role", "standby"))
        announcement = NodeAnnouncement(node_id, kind, role, **fields)  # type: ignore[arg-type]
        with pytest.raises(AnnouncementRejectedError):
            made.announce(announcement)
        assert made.nodes() == []

    def test_a_heartbeat_with_an_unknown_role_is_refused_and_the_role_kept(self, announcer: OpenAnnouncer) -> None:
        made = announcer()
        made.announce(scheduler(role="standby"))
        with pytest.raises(AnnouncementRejectedError):
            made.heartbeat("leader\r\nSET x y")
        found = listed(made, "sched-1")
        assert found is not None and found.announcement.role == "standby"

    def test_close_is_idempotent(self, announcer: OpenAnnouncer) -> None:
        made = announcer()
        made.announce(scheduler())
        made.close()
        made.close()


__all__ = [
    "LONG_DEAD_AFTER",
    "MakeAnnouncer",
    "NODE_ANNOUNCER_CONTRACT_VERSION",
    "NodeAnnouncerContract",
    "OpenAnnouncer",
    "SHORT_DEAD_AFTER",
    "listed",
    "scheduler",
]
