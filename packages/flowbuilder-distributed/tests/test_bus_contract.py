"""The ``redis://`` message bus passes the MessageBus contract against a redis-server of its own."""

from __future__ import annotations

import pytest

from flowbuilder_contracts import MessageBusContract
from flowbuilder_contracts.message_bus import MakeBus
from flowbuilder_distributed.bus import RedisMessageBus


class TestRedisMessageBus(MessageBusContract):
    @pytest.fixture
    def make_bus(self, bus_url: str) -> MakeBus:
        return lambda node_id: RedisMessageBus.open(bus_url, node_id)


def test_the_installed_plugin_opens_redis_urls_through_the_plugin_host(bus_url: str) -> None:
    """The bus is found the way a third party's would be: the entry point and flowbuilder_message_buses."""
    from flowbuilder.plugins import build_plugin_host

    host = build_plugin_host()
    assert host.message_bus_classes()["redis"] is RedisMessageBus
    with host.open_message_bus(bus_url, "through-the-host") as bus:
        assert isinstance(bus, RedisMessageBus) and bus.node_id == "through-the-host"
