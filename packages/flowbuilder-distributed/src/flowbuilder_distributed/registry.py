"""The node registry: which nodes (workers, schedulers, ...) are in the cluster, and how loaded.

Each node is a Redis hash ``{prefix}:node:{id}`` (id, kind, role, address, host, pid, labels,
group, capacity, running, memory use, state, joined, last heartbeat) and a member of the sorted set
``{prefix}:nodes`` scored by its last heartbeat, so listing is one ZRANGE and one pipeline.
A node joins, heartbeats every few seconds and leaves; one whose last heartbeat is older than
``dead_after`` seconds counts as dead (it was killed, or lost Redis) and is dropped from the
set after ten times that. The registry is for any node kind: workers join it themselves,
schedulers through :class:`~flowbuilder_distributed.announcer.RedisNodeAnnouncer` (their
``role`` is ``leader`` or ``standby``; a worker's is ``active``).

**Load score** (lower is less loaded), after the seed's formula::

    score = 0.4 * running / capacity + 0.6 * memory_used_fraction

``running / capacity`` is the node's share of its attempt slots in use; the memory term is
the host's used memory (``1 - MemAvailable / MemTotal`` from /proc/meminfo, 0 where that is
not readable). :meth:`NodeRegistry.least_loaded` ranks live nodes by it; a worker uses it to
let less-loaded workers take an attempt first (see :mod:`flowbuilder_distributed.worker`).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from flowbuilder_distributed.stream_keys import DEFAULT_GROUP, StreamKeys

if TYPE_CHECKING:
    import redis

DEFAULT_DEAD_AFTER = 10.0
"""Seconds without a heartbeat after which a node counts as dead."""
FORGET_AFTER_FACTOR = 10
"""A dead node is removed from the registry after ``dead_after`` times this."""
CPU_WEIGHT = 0.4
MEMORY_WEIGHT = 0.6


def memory_used_fraction() -> float:
    """The host's used memory as a fraction (0 where /proc/meminfo is not readable)."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            fields = dict(line.split(b":", 1) for line in meminfo.read().splitlines() if b":" in line)
        total = int(fields[b"MemTotal"].split()[0])
        available = int(fields[b"MemAvailable"].split()[0])
    except (OSError, KeyError, ValueError, IndexError):
        return 0.0
    return max(0.0, min(1.0, 1 - available / total)) if total > 0 else 0.0


@dataclass(slots=True)
class NodeInfo:
    """One node as registered. ``last_heartbeat`` and ``joined`` are wall-clock seconds."""

    id: str
    kind: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    labels: tuple[str, ...] = ()
    group: str = DEFAULT_GROUP
    capacity: int = 1
    running: int = 0
    memory_used: float = 0.0
    state: str = "active"
    joined: float = field(default_factory=time.time)
    last_heartbeat: float = field(default_factory=time.time)
    role: str = "active"
    """``leader`` / ``standby`` for a scheduler (from its consensus engine); ``active`` otherwise."""
    address: str = ""
    """Where the node listens, if anywhere (a Raft member's ``HOST:PORT``)."""

    @property
    def load(self) -> float:
        """The load score (see the module docstring): lower is less loaded."""
        return CPU_WEIGHT * self.running / max(1, self.capacity) + MEMORY_WEIGHT * self.memory_used

    def heartbeat_age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.last_heartbeat)

    def alive(self, dead_after: float = DEFAULT_DEAD_AFTER, now: float | None = None) -> bool:
        return self.heartbeat_age(now) <= dead_after

    def serves(self, labels: Iterable[str], group: str | None) -> bool:
        """Whether this node may run an attempt placed with ``labels`` in ``group``."""
        return (group or DEFAULT_GROUP) == self.group and set(labels) <= set(self.labels)

    def as_fields(self) -> dict[str, str]:
        return {
            "id": self.id,
            "kind": self.kind,
            "host": self.host,
            "pid": str(self.pid),
            "labels": json.dumps(list(self.labels)),
            "group": self.group,
            "capacity": str(self.capacity),
            "running": str(self.running),
            "memory_used": f"{self.memory_used:.4f}",
            "state": self.state,
            "joined": f"{self.joined:.3f}",
            "last_heartbeat": f"{self.last_heartbeat:.3f}",
            "role": self.role,
            "address": self.address,
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> NodeInfo | None:
        """The node in a registry hash; None if the hash is not a node (damaged, half-written)."""
        try:
            text = {key.decode(): value.decode() for key, value in fields.items()}
            labels = json.loads(text.get("labels", "[]"))
            node = cls(
                id=text["id"],
                kind=text["kind"],
                host=text.get("host", "?"),
                pid=int(text.get("pid", "0")),
                labels=tuple(str(label) for label in labels) if isinstance(labels, list) else (),
                group=text.get("group", DEFAULT_GROUP),
                capacity=int(text.get("capacity", "1")),
                running=int(text.get("running", "0")),
                memory_used=float(text.get("memory_used", "0")),
                state=text.get("state", "active"),
                joined=float(text.get("joined", "0")),
                last_heartbeat=float(text["last_heartbeat"]),
                role=text.get("role", "active"),
                address=text.get("address", ""),
            )
        except (KeyError, ValueError, UnicodeDecodeError, RecursionError):
            return None
        # "nan" or "inf" parse as floats: a NaN heartbeat would read alive forever and a NaN
        # load would be printed as invalid JSON by ``cluster status --json``.
        if not all(math.isfinite(value) for value in (node.memory_used, node.joined, node.last_heartbeat)):
            return None
        return node

    def as_json(self, dead_after: float = DEFAULT_DEAD_AFTER, now: float | None = None) -> dict[str, object]:
        now = time.time() if now is None else now
        return {
            "id": self.id,
            "kind": self.kind,
            "role": self.role,
            "address": self.address,
            "host": self.host,
            "pid": self.pid,
            "labels": list(self.labels),
            "group": self.group,
            "capacity": self.capacity,
            "running": self.running,
            "load": round(self.load, 4),
            "state": self.state,
            "heartbeat_age": round(self.heartbeat_age(now), 3),
            "health": "alive" if self.alive(dead_after, now) else "dead",
        }


class NodeRegistry:
    """Join, heartbeat, leave and list nodes in Redis (synchronous; one client, any thread)."""

    def __init__(self, client: redis.Redis, *, keys: StreamKeys | None = None,
                 dead_after: float = DEFAULT_DEAD_AFTER):  # fmt: skip
        self.client = client
        self.keys = keys or StreamKeys()
        self.dead_after = dead_after

    def join(self, node: NodeInfo) -> None:
        """Register ``node`` (replacing an entry with its id)."""
        node.last_heartbeat = time.time()
        with self.client.pipeline() as pipe:
            pipe.delete(self.keys.node(node.id))
            pipe.hset(self.keys.node(node.id), mapping=node.as_fields())  # type: ignore[arg-type]
            pipe.zadd(self.keys.nodes(), {node.id: node.last_heartbeat})
            pipe.execute()

    def heartbeat(self, node: NodeInfo, *, rejoin: bool = False) -> None:
        """Record that ``node`` is alive, with its current running count, memory use, state and role.

        With ``rejoin``, a node whose entry is gone (forgotten after a long silence, or a
        Redis that lost its data) joins again, whole, instead of leaving a half-written hash
        behind; the caller makes sure no heartbeat races its own :meth:`leave`.
        """
        node.last_heartbeat = time.time()
        node.memory_used = memory_used_fraction()
        with self.client.pipeline() as pipe:
            pipe.exists(self.keys.node(node.id))
            pipe.hset(
                self.keys.node(node.id),
                mapping={
                    "running": str(node.running),
                    "memory_used": f"{node.memory_used:.4f}",
                    "state": node.state,
                    "role": node.role,
                    "last_heartbeat": f"{node.last_heartbeat:.3f}",
                },
            )
            pipe.zadd(self.keys.nodes(), {node.id: node.last_heartbeat})
            existed = pipe.execute()[0]
        if rejoin and not existed:
            self.join(node)

    def leave(self, node_id: str) -> None:
        """Remove a node (it stopped on purpose)."""
        with self.client.pipeline() as pipe:
            pipe.delete(self.keys.node(node_id))
            pipe.zrem(self.keys.nodes(), node_id)
            pipe.execute()

    def nodes(self) -> list[NodeInfo]:
        """Every registered node, live or dead (dead ones long gone are forgotten here)."""
        now = time.time()
        self.client.zremrangebyscore(self.keys.nodes(), "-inf", now - self.dead_after * FORGET_AFTER_FACTOR)
        members: list[bytes] = self.client.zrange(self.keys.nodes(), 0, -1)  # type: ignore[assignment]
        # Anyone who can write to Redis can add a member that is not UTF-8, or a node key that is
        # not a hash: such entries are skipped, so they never stop a worker's heartbeat or
        # ``cluster status`` (a node's own join writes both whole).
        ids = [member.decode() for member in members if _utf8(member)]
        if not ids:
            return []
        with self.client.pipeline(transaction=False) as pipe:
            for node_id in ids:
                pipe.hgetall(self.keys.node(node_id))
            found = pipe.execute(raise_on_error=False)
        hashes = [fields for fields in found if isinstance(fields, dict) and fields]
        return [node for node in (NodeInfo.from_fields(fields) for fields in hashes) if node is not None]

    def live(self, kind: str | None = None) -> list[NodeInfo]:
        now = time.time()
        return [n for n in self.nodes() if n.alive(self.dead_after, now) and (kind is None or n.kind == kind)]

    def least_loaded(self, labels: Iterable[str] = (), group: str | None = None,
                     kind: str = "worker") -> NodeInfo | None:  # fmt: skip
        """The live, active node of ``kind`` serving ``labels`` in ``group`` with the lowest load score."""
        wanted = tuple(labels)
        candidates = [n for n in self.live(kind) if n.state == "active" and n.serves(wanted, group)]
        return min(candidates, key=lambda n: (n.load, n.running, n.id), default=None)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


__all__ = ["DEFAULT_DEAD_AFTER", "NodeInfo", "NodeRegistry", "memory_used_fraction"]
