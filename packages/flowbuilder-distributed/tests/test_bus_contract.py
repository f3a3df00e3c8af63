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
