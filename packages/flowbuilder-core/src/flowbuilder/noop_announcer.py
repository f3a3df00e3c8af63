"""``noop://``: core's node announcer for a single node, which has no registry to join.

It keeps only its own node, in memory, so a scheduler run without ``--registry`` goes
through the same announce / heartbeat / leave path as one in a cluster (one way through),
and :meth:`NoopNodeAnnouncer.nodes` answers "just me" — which is all a single node knows.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from flowbuilder.interfaces.node_announcer import (
    AnnouncedNode,
    NodeAnnouncement,
    NodeAnnouncer,
    NodeAnnouncerError,
    check_role,
)

if TYPE_CHECKING:
    from flowbuilder.interfaces.message_bus import MessageBus

DEFAULT_DEAD_AFTER = 10.0
"""Seconds without a heartbeat after which the node shows as not alive."""


class NoopNodeAnnouncer(NodeAnnouncer):
    """Announces to nobody; remembers its own node (thread-safe)."""

    scheme = "noop"

    def __init__(self, dead_after: float = DEFAULT_DEAD_AFTER) -> None:
        self.dead_after = dead_after
        self._node: NodeAnnouncement | None = None
        self._last_heartbeat = 0.0
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, dead_after: float | None = None, bus: MessageBus | None = None) -> NoopNodeAnnouncer:
        return cls(DEFAULT_DEAD_AFTER if dead_after is None else dead_after)

    def announce(self, node: NodeAnnouncement) -> None:
        checked = node.checked()
        with self._lock:
            self._node, self._last_heartbeat = checked, time.time()

    def heartbeat(self, role: str | None = None) -> None:
        with self._lock:
            if self._node is None:
                raise NodeAnnouncerError("heartbeat before announce (or after leave): announce the node first")
            if role is not None:
                self._node = self._node.with_role(check_role(role))
            self._last_heartbeat = time.time()

    def leave(self) -> None:
        with self._lock:
            self._node = None

    def nodes(self) -> list[AnnouncedNode]:
        with self._lock:
            if self._node is None:
                return []
            alive = time.time() - self._last_heartbeat <= self.dead_after
            return [AnnouncedNode(self._node, self._last_heartbeat, alive)]

    def close(self) -> None:
        """Nothing to release."""


__all__ = ["DEFAULT_DEAD_AFTER", "NoopNodeAnnouncer"]
