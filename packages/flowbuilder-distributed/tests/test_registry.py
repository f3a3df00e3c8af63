"""The node registry: join, heartbeat, leave, dead nodes, least-loaded choice (real redis-server)."""

from __future__ import annotations

import time
from typing import Iterator

import pytest
import redis

from flowbuilder_distributed.registry import NodeInfo, NodeRegistry


@pytest.fixture
def registry(redis_url: str) -> Iterator[NodeRegistry]:
    client = redis.Redis.from_url(redis_url)
    yield NodeRegistry(client, dead_after=0.5)
    client.close()


def worker(node_id: str, *, labels: tuple[str, ...] = (), group: str = "default", capacity: int = 4,
           running: int = 0) -> NodeInfo:  # fmt: skip
    return NodeInfo(id=node_id, kind="worker", labels=labels, group=group, capacity=capacity, running=running)


def test_a_joined_node_is_listed_with_its_fields(registry: NodeRegistry) -> None:
    registry.join(worker("w1", labels=("gpu", "linux"), group="g", capacity=8))
    (node,) = registry.nodes()
    assert (node.id, node.kind, node.labels, node.group, node.capacity) == ("w1", "worker", ("gpu", "linux"), "g", 8)
    assert node.alive(registry.dead_after)


def test_a_node_that_stops_heartbeating_counts_as_dead_and_a_leaving_one_is_gone(registry: NodeRegistry) -> None:
    quiet, beating, leaving = worker("quiet"), worker("beating"), worker("leaving")
    for node in (quiet, beating, leaving):
        registry.join(node)
    registry.leave("leaving")
    time.sleep(0.6)
    registry.heartbeat(beating)
    assert [node.id for node in registry.live()] == ["beating"]
    assert sorted(node.id for node in registry.nodes()) == ["beating", "quiet"]


def test_least_loaded_picks_the_live_matching_node_with_the_lowest_score(registry: NodeRegistry) -> None:
    registry.join(worker("busy", labels=("gpu",), running=3))
    registry.join(worker("idle", labels=("gpu",), running=0))
    registry.join(worker("no-gpu", running=0))
    registry.join(worker("other-group", labels=("gpu",), group="g2", running=0))
    assert registry.least_loaded(("gpu",)).id == "idle"  # type: ignore[union-attr]
    assert registry.least_loaded(("gpu",), "g2").id == "other-group"  # type: ignore[union-attr]
    assert registry.least_loaded(("tpu",)) is None


def test_the_load_score_weighs_slots_in_use_and_memory_as_documented() -> None:
    node = worker("w", capacity=4, running=2)
    node.memory_used = 0.5
    assert node.load == pytest.approx(0.4 * 0.5 + 0.6 * 0.5)


def test_a_damaged_registry_entry_is_skipped_not_fatal(registry: NodeRegistry) -> None:
    registry.join(worker("good"))
    registry.client.zadd(registry.keys.nodes(), {"bad": time.time()})
    registry.client.hset(registry.keys.node("bad"), mapping={"id": "bad", "capacity": "many"})
    assert [node.id for node in registry.nodes()] == ["good"]


def test_junk_written_into_the_registry_is_skipped_not_fatal(registry: NodeRegistry) -> None:
    """A member that is not UTF-8, a node key that is not a hash, NaN numbers: each once stopped
    every worker's heartbeat (and ``cluster status``) with an exception; now they are skipped."""
    registry.join(worker("good"))
    now = time.time()
    registry.client.zadd(registry.keys.nodes(), {b"\xff\xfe": now, "not-a-hash": now, "nan": now})
    registry.client.set(registry.keys.node("not-a-hash"), "x")
    registry.client.hset(registry.keys.node("nan"), mapping={"id": "nan", "kind": "worker", "last_heartbeat": "nan"})
    assert [node.id for node in registry.nodes()] == ["good"]
    assert [node.id for node in registry.live("worker")] == ["good"]
