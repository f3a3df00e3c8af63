"""Core's ``noop://`` node announcer passes the NodeAnnouncer contract and is the default registry."""

from __future__ import annotations

import pytest

from flowbuilder.errors import ConfigurationError
from flowbuilder.noop_announcer import NoopNodeAnnouncer
from flowbuilder.plugins import build_plugin_host
from flowbuilder_contracts import NodeAnnouncerContract
from flowbuilder_contracts.node_announcer import MakeAnnouncer, scheduler


class TestNoopNodeAnnouncer(NodeAnnouncerContract):
    @pytest.fixture
    def make_announcer(self) -> MakeAnnouncer:
        return lambda dead_after: NoopNodeAnnouncer.open("noop://", dead_after=dead_after)


def test_without_a_registry_url_the_host_opens_the_noop_announcer() -> None:
    announcer = build_plugin_host().open_node_announcer()
    assert isinstance(announcer, NoopNodeAnnouncer)


def test_a_noop_announcer_sees_only_its_own_node() -> None:
    first, second = NoopNodeAnnouncer.open("noop://"), NoopNodeAnnouncer.open("noop://")
    first.announce(scheduler("one"))
    second.announce(scheduler("two"))
    assert [node.announcement.id for node in first.nodes()] == ["one"]


def test_an_unknown_registry_scheme_names_the_installed_ones_and_the_package_for_redis() -> None:
    host = build_plugin_host()
    with pytest.raises(ConfigurationError, match=r"unknown scheme 'etcd' \(installed: .*noop://"):
        host.open_node_announcer("etcd://127.0.0.1:2379")
    if "redis" not in host.node_announcer_classes():
        with pytest.raises(ConfigurationError, match="pip install flowbuilder-distributed"):
            host.open_node_announcer("redis://127.0.0.1:1/0")
