"""``redis://``: schedulers (and any node) announce themselves in the node registry.

:class:`RedisNodeAnnouncer` is the :class:`~flowbuilder.interfaces.node_announcer.NodeAnnouncer`
of flowbuilder-distributed, registered through ``flowbuilder_node_announcers``. It stores
nothing of its own: an announcement becomes a :class:`~flowbuilder_distributed.registry.NodeInfo`
in the same :class:`~flowbuilder_distributed.registry.NodeRegistry` that workers join, so
``flowbuilder cluster status`` lists schedulers and workers side by side, with their role.

When the process has a message bus configured (``[bus] url``), joins and leaves are also
published on its topic :data:`~flowbuilder.interfaces.node_announcer.NODE_EVENTS_TOPIC`
(``{"event": "node_joined" | "node_left", "node": {...}}``) — at-least-once, like everything
on the bus; a bus that is down never stops a node from announcing. A node that is killed
publishes nothing: the registry ages it out (dead after ``dead_after`` seconds).

URL: ``redis://[:PASSWORD@]HOST:PORT/DB[?prefix=NAME]`` (``prefix``: the registry's key
prefix, as ``flowbuilder worker --prefix``; default ``flowbuilder``).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flowbuilder.errors import ConfigurationError, shown_url
from flowbuilder.interfaces.message_bus import MessageBusError
from flowbuilder.interfaces.node_announcer import (
    NODE_EVENTS_TOPIC,
    AnnouncedNode,
    NodeAnnouncement,
    NodeAnnouncer,
    NodeAnnouncerError,
    RegistryUnavailableError,
    check_role,
)
from flowbuilder_distributed._redis_connection import CONNECT_TIMEOUT, REDIS_SCHEMES
from flowbuilder_distributed.registry import DEFAULT_DEAD_AFTER, NodeInfo, NodeRegistry
from flowbuilder_distributed.stream_keys import DEFAULT_PREFIX, StreamKeys

if TYPE_CHECKING:
    import redis

    from flowbuilder.interfaces.message_bus import MessageBus

log = logging.getLogger(__name__)

SOCKET_TIMEOUT = 5.0
"""Seconds one registry command may take before the registry is called unreachable (never a hang)."""
_PREFIX = r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}"


class RedisNodeAnnouncer(NodeAnnouncer):
    """One node in the Redis node registry (thread-safe: heartbeats may come from another thread)."""

    scheme = "redis"

    def __init__(self, registry: NodeRegistry, *, shown: str, bus: MessageBus | None = None) -> None:
        self.registry = registry
        self.bus = bus
        self._shown = shown
        self._node: NodeInfo | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, dead_after: float | None = None, bus: MessageBus | None = None) -> RedisNodeAnnouncer:
        import re

        import redis

        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError as error:
            raise ConfigurationError(f"registry URL {shown_url(url)!r} cannot be read: {error}") from None
        if parts.scheme not in REDIS_SCHEMES:
            raise ConfigurationError(f"registry URL {shown_url(url)!r} is not a redis:// URL (redis://HOST:PORT/DB)")
        options = dict(parse_qsl(parts.query))
        prefix = options.pop("prefix", DEFAULT_PREFIX)
        if options:
            raise ConfigurationError(f"registry URL {shown_url(url)!r}: unknown option {sorted(options)[0]!r}"
                                     " (known: prefix)")  # fmt: skip
        if not re.fullmatch(_PREFIX, prefix):
            raise ConfigurationError(f"registry URL {shown_url(url)!r}: prefix {prefix[:80]!r} is not a key prefix"
                                     " (letters, digits, _.:-)")  # fmt: skip
        try:
            client = redis.Redis.from_url(urlunsplit(parts._replace(query=urlencode(options))),
                                          socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT)  # fmt: skip
        except (ValueError, TypeError) as error:
            raise ConfigurationError(f"registry URL {shown_url(url)!r}: {error}") from None
        registry = NodeRegistry(client, keys=StreamKeys(prefix),
                                dead_after=DEFAULT_DEAD_AFTER if dead_after is None else dead_after)  # fmt: skip
        return cls(registry, shown=shown_url(url), bus=bus)

    def _unavailable(self, error: Exception) -> RegistryUnavailableError:
        return RegistryUnavailableError(f"cannot reach the node registry at {self._shown}: {error}")

    def announce(self, node: NodeAnnouncement) -> None:
        import redis

        checked = node.checked()
        info = NodeInfo(id=checked.id, kind=checked.kind, host=socket.gethostname(), pid=checked.pid,
                        labels=checked.labels, role=checked.role, address=checked.address,
                        joined=checked.started_at, capacity=1)  # fmt: skip
        with self._lock:
            try:
                self.registry.join(info)
            except redis.RedisError as error:
                raise self._unavailable(error) from None
            self._node = info
        self._publish("node_joined", info)

    def heartbeat(self, role: str | None = None) -> None:
        import redis

        with self._lock:
            if self._node is None:
                raise NodeAnnouncerError("heartbeat before announce (or after leave): announce the node first")
            if role is not None:
                self._node.role = check_role(role)
            try:
                self.registry.heartbeat(self._node, rejoin=True)
            except redis.RedisError as error:
                raise self._unavailable(error) from None

    def leave(self) -> None:
        import redis

        with self._lock:
            node, self._node = self._node, None
            if node is None:
                return
            try:
                self.registry.leave(node.id)
            except redis.RedisError as error:
                raise self._unavailable(error) from None
        self._publish("node_left", node)

    def nodes(self) -> list[AnnouncedNode]:
        import redis

        try:
            found = self.registry.nodes()
        except redis.RedisError as error:
            raise self._unavailable(error) from None
        return [announced for announced in map(self._announced, found) if announced is not None]

    def _announced(self, node: NodeInfo) -> AnnouncedNode | None:
        """A registry entry as an announcement; None for one no announcement could have made."""
        try:
            announcement = NodeAnnouncement(node.id, node.kind, node.role, address=node.address, pid=node.pid,
                                            labels=node.labels, started_at=node.joined).checked()  # fmt: skip
        except NodeAnnouncerError:
            return None
        return AnnouncedNode(announcement, node.last_heartbeat, node.alive(self.registry.dead_after))

    def _publish(self, event: str, node: NodeInfo) -> None:
        """Tell the bus (if any); a bus that is down is logged, never fatal: the registry is the truth."""
        if self.bus is None:
            return
        body: dict[str, Any] = {"event": event, "node": {"id": node.id, "kind": node.kind, "role": node.role,
                                                         "address": node.address, "host": node.host, "pid": node.pid,
                                                         "labels": list(node.labels)}}  # fmt: skip
        try:
            self.bus.publish(NODE_EVENTS_TOPIC, body)
        except MessageBusError as error:
            log.warning("could not publish %s for node %s on the bus: %s", event, node.id, error)

    def close(self) -> None:
        client: redis.Redis = self.registry.client
        client.close()


__all__ = ["RedisNodeAnnouncer", "SOCKET_TIMEOUT"]
