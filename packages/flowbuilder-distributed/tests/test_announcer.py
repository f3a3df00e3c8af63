"""The ``redis://`` node announcer: the NodeAnnouncer contract, one registry with the workers, bus events."""

from __future__ import annotations

import uuid

import pytest
import redis

from flowbuilder.interfaces.message_bus import Message
from flowbuilder.interfaces.node_announcer import NODE_EVENTS_TOPIC, RegistryUnavailableError
from flowbuilder.plugins import build_plugin_host
from flowbuilder_contracts import NodeAnnouncerContract
from flowbuilder_contracts.message_bus import Collector
from flowbuilder_contracts.node_announcer import MakeAnnouncer, scheduler
from flowbuilder_contracts.redis_server import RedisServer
from flowbuilder_distributed.announcer import RedisNodeAnnouncer
from flowbuilder_distributed.bus import RedisMessageBus
from flowbuilder_distributed.registry import NodeInfo, NodeRegistry
from flowbuilder_distributed.stream_keys import StreamKeys


def fresh_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


class TestRedisNodeAnnouncer(NodeAnnouncerContract):
    @pytest.fixture
    def make_announcer(self, bus_redis: RedisServer) -> MakeAnnouncer:
        url = f"{bus_redis.url}?prefix={fresh_prefix()}"  # a fresh registry per test on the shared server
        return lambda dead_after: RedisNodeAnnouncer.open(url, dead_after=dead_after)


def test_schedulers_and_workers_share_one_registry_and_every_announcer_sees_every_node(bus_redis: RedisServer) -> None:
    prefix = fresh_prefix()
    url = f"{bus_redis.url}?prefix={prefix}"
    client = redis.Redis.from_url(bus_redis.url)
    NodeRegistry(client, keys=StreamKeys(prefix)).join(NodeInfo(id="w1", kind="worker"))
    with RedisNodeAnnouncer.open(url) as first, RedisNodeAnnouncer.open(url) as second:
        first.announce(scheduler("s1", role="leader", address="127.0.0.1:7001"))
        second.announce(scheduler("s2", role="standby", address="127.0.0.1:7002"))
        seen = {node.announcement.id: node.announcement for node in first.nodes()}
        assert sorted(seen) == ["s1", "s2", "w1"]
        assert (seen["s1"].role, seen["s2"].role, seen["w1"].role) == ("leader", "standby", "active")
        listed = {node.id: node for node in NodeRegistry(client, keys=StreamKeys(prefix)).nodes()}
        assert (listed["s2"].kind, listed["s2"].address, listed["s2"].role) == (
            "scheduler",
            "127.0.0.1:7002",
            "standby",
        )
    client.close()


def test_a_forgotten_node_joins_again_whole_on_its_next_heartbeat(bus_redis: RedisServer) -> None:
    """A Redis that lost its data (restart without AOF) must not keep a half-written entry."""
    prefix = fresh_prefix()
    with RedisNodeAnnouncer.open(f"{bus_redis.url}?prefix={prefix}") as announcer:
        announcer.announce(scheduler("s1", role="standby"))
        client = redis.Redis.from_url(bus_redis.url)
        client.delete(StreamKeys(prefix).node("s1"), StreamKeys(prefix).nodes())
        client.close()
        announcer.heartbeat("leader")
        (node,) = announcer.nodes()
        assert (node.announcement.id, node.announcement.kind, node.announcement.role) == ("s1", "scheduler", "leader")


def test_joins_and_leaves_are_published_on_the_bus_when_one_is_configured(bus_redis: RedisServer, bus_url: str) -> None:
    heard = Collector()
    with RedisMessageBus.open(bus_url, "observer") as observer, RedisMessageBus.open(bus_url, "s1") as own_bus:
        observer.subscribe(NODE_EVENTS_TOPIC, heard)
        announcer = RedisNodeAnnouncer.open(f"{bus_redis.url}?prefix={fresh_prefix()}", bus=own_bus)
        announcer.announce(scheduler("s1", role="standby", address="127.0.0.1:7001"))
        announcer.heartbeat("leader")
        announcer.leave()
        announcer.close()
        messages: list[Message] = heard.wait_for(2)
    assert [message.body["event"] for message in messages] == ["node_joined", "node_left"]
    joined = messages[0].body["node"]
    assert (joined["id"], joined["kind"], joined["address"]) == ("s1", "scheduler", "127.0.0.1:7001")
    assert messages[1].body["node"]["role"] == "leader"


def test_a_dead_registry_is_a_one_line_error_within_seconds(redis_server: RedisServer) -> None:
    announcer = RedisNodeAnnouncer.open(redis_server.url)
    redis_server.stop(kill=True)
    with pytest.raises(RegistryUnavailableError, match=r"cannot reach the node registry at redis://127\.0\.0\.1"):
        announcer.announce(scheduler())
    announcer.close()


def test_a_password_in_the_registry_url_never_shows_in_an_error(redis_server: RedisServer) -> None:
    url = redis_server.url.replace("redis://", "redis://:hunter2-secret@")
    redis_server.stop(kill=True)
    with pytest.raises(RegistryUnavailableError) as caught:
        RedisNodeAnnouncer.open(url).announce(scheduler())
    assert "hunter2" not in str(caught.value) and ":***@" in str(caught.value)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:99999/0", "redis://127.0.0.1:6/0?colour=red",
                                 "redis://127.0.0.1:6/0?prefix=bad%20prefix", "redis://:hunter2@[::1",
                                 "redis://:hunter2@host:port/0"])  # fmt: skip
def test_an_unreadable_registry_url_is_a_configuration_error(url: str) -> None:
    from flowbuilder.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="registry URL") as caught:
        RedisNodeAnnouncer.open(url)
    assert "hunter2" not in str(caught.value)


def test_the_installed_plugin_opens_redis_registry_urls_through_the_plugin_host(bus_redis: RedisServer) -> None:
    host = build_plugin_host()
    assert host.node_announcer_classes()["redis"] is RedisNodeAnnouncer
    with host.open_node_announcer(bus_redis.url, dead_after=3.0) as announcer:
        assert isinstance(announcer, RedisNodeAnnouncer) and announcer.registry.dead_after == 3.0
