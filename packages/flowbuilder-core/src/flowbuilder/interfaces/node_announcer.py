"""The NodeAnnouncer interface: a node says to the cluster that it is there, and in which role.

Workers, and since issue 12's follow-up schedulers, put themselves in a registry that an
operator reads (``flowbuilder cluster status``): which scheduler leads, which stand by, which
died. A node :meth:`~NodeAnnouncer.announce`\\ s itself once with a :class:`NodeAnnouncement`,
:meth:`~NodeAnnouncer.heartbeat`\\ s every few seconds with its current role, and
:meth:`~NodeAnnouncer.leave`\\ s when it stops on purpose. A node that was killed simply stops
heartbeating; the registry ages it out (shown dead, then forgotten).

An announcer is chosen by URL scheme (``noop://``: core's single-node default, which keeps
only this node; ``redis://HOST:PORT/DB``: flowbuilder-distributed's registry) through the
``flowbuilder_node_announcers`` hook, the way message buses are
(:meth:`flowbuilder.plugins.PluginHost.open_node_announcer`).
"""

from __future__ import annotations

import os
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from flowbuilder.errors import FlowBuilderError

if TYPE_CHECKING:
    from flowbuilder.interfaces.message_bus import MessageBus

NODE_KINDS = ("scheduler", "worker")
"""What a node is."""
NODE_ROLES = ("leader", "standby", "active")
"""What a node does now: a scheduler leads or stands by; a node without an election (a worker) is active."""
NODE_ID_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,199}"
"""What a node id may look like (it becomes part of a key in the registry's medium)."""
MAX_LABELS = 64
"""The most labels one node may carry."""

_NODE_ID = re.compile(NODE_ID_PATTERN)
_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,99}")


class NodeAnnouncerError(FlowBuilderError):
    """An announcement was refused or could not be made; the message says what to do."""


class AnnouncementRejectedError(NodeAnnouncerError):
    """The announcement itself is invalid (a bad id, kind, role or label); nothing was recorded."""


class RegistryUnavailableError(NodeAnnouncerError):
    """The registry's medium (a Redis server) cannot be reached."""


@dataclass(frozen=True, slots=True)
class NodeAnnouncement:
    """What a node tells the registry about itself.

    ``id`` names the node (a scheduler: its consensus node id); ``kind`` is one of
    :data:`NODE_KINDS`; ``role`` one of :data:`NODE_ROLES`; ``address`` where it can be
    reached, if anywhere (a Raft member's ``HOST:PORT``; ``""`` for none); ``pid`` its
    process; ``labels`` free tags (a worker's capabilities); ``started_at`` its start time
    (Unix seconds). Build one with :meth:`checked` to have it validated.
    """

    id: str
    kind: str
    role: str
    address: str = ""
    pid: int = field(default_factory=os.getpid)
    labels: tuple[str, ...] = ()
    started_at: float = field(default_factory=time.time)

    def checked(self) -> NodeAnnouncement:
        """This announcement, or :class:`AnnouncementRejectedError` naming the first bad field."""
        if not isinstance(self.id, str) or not _NODE_ID.fullmatch(self.id):
            raise AnnouncementRejectedError(
                f"node id {repr(self.id)[:80]} is not valid: use 1-200 letters, digits and _.:@-"
            )
        if self.kind not in NODE_KINDS:
            raise AnnouncementRejectedError(f"node kind {self.kind!r} is not one of {', '.join(NODE_KINDS)}")
        check_role(self.role)
        if not isinstance(self.address, str) or len(self.address) > 300 or not self.address.isprintable():
            raise AnnouncementRejectedError(f"node address {repr(self.address)[:80]} is not a printable HOST:PORT")
        if not isinstance(self.pid, int) or self.pid < 0:
            raise AnnouncementRejectedError(f"node pid {self.pid!r} is not a process id")
        if len(self.labels) > MAX_LABELS:
            raise AnnouncementRejectedError(f"a node may carry at most {MAX_LABELS} labels, not {len(self.labels)}")
        for label in self.labels:
            if not isinstance(label, str) or not _LABEL.fullmatch(label):
                raise AnnouncementRejectedError(f"label {repr(label)[:80]} is not valid: letters, digits, _ and -")
        if not isinstance(self.started_at, (int, float)) or not 0 <= self.started_at < 1e11:
            raise AnnouncementRejectedError(f"started_at {self.started_at!r} is not a Unix time")
        return self

    def with_role(self, role: str) -> NodeAnnouncement:
        return replace(self, role=check_role(role))


def check_role(role: object) -> str:
    """``role`` when it is one of :data:`NODE_ROLES`, else :class:`AnnouncementRejectedError`."""
    if role not in NODE_ROLES:
        raise AnnouncementRejectedError(f"node role {repr(role)[:80]} is not one of {', '.join(NODE_ROLES)}")
    return str(role)


@dataclass(frozen=True, slots=True)
class AnnouncedNode:
    """A node as the registry shows it: its announcement, its last heartbeat, and whether it is alive."""

    announcement: NodeAnnouncement
    last_heartbeat: float
    alive: bool


class NodeAnnouncer(ABC):
    """Puts one node in the cluster's registry and keeps it there while it lives.

    Registered by URL ``scheme`` through ``flowbuilder_node_announcers`` and opened with
    :meth:`open` (``PluginHost.open_node_announcer`` chooses by ``--registry``, ``[registry]
    url`` in ``flowbuilder.toml`` or ``FLOWBUILDER_REGISTRY__URL``; default ``noop://``). One
    instance announces one node.

    Contract (``flowbuilder_contracts.node_announcer.NodeAnnouncerContract``, version 1):

    * :meth:`announce` validates the announcement (:meth:`NodeAnnouncement.checked`) and
      records it, replacing any earlier entry with the same id; :meth:`nodes` then lists it,
      alive, with its fields unchanged. Announcing again (after a restart) replaces.
    * :meth:`heartbeat` keeps the node alive and records its current ``role`` (a scheduler
      that became leader says so in its next heartbeat); called before :meth:`announce`, or
      after :meth:`leave`, it raises :class:`NodeAnnouncerError`.
    * :meth:`leave` removes the node at once (idempotent). A node that stops heartbeating
      without leaving (killed) is listed as not alive once ``dead_after`` seconds have
      passed, and forgotten later; this is the registry's job, not the node's.
    * :meth:`nodes` lists what this announcer can see: every node of the registry (a shared
      medium), or only its own node (``noop``). It never raises for a damaged entry: it skips it.
    * An unreachable medium raises :class:`RegistryUnavailableError` within a few seconds,
      never hangs. :meth:`close` releases connections (idempotent) without leaving.
    """

    scheme: ClassVar[str]
    """The URL scheme that chooses this announcer (``noop``, ``redis``)."""

    @classmethod
    @abstractmethod
    def open(cls, url: str, *, dead_after: float | None = None, bus: MessageBus | None = None) -> NodeAnnouncer:
        """The announcer of the registry at ``url``.

        ``dead_after``: seconds without a heartbeat after which :meth:`nodes` shows a node as
        not alive (None: the announcer's default). ``bus``: the cluster's message bus, if one
        is configured; an announcer that can, publishes joins and leaves on it (topic
        :data:`NODE_EVENTS_TOPIC`). Opening is cheap; an unreachable medium may show on first use.
        """

    @abstractmethod
    def announce(self, node: NodeAnnouncement) -> None:
        """Record ``node`` as present (validated first; replaces an entry with its id)."""

    @abstractmethod
    def heartbeat(self, role: str | None = None) -> None:
        """Record that the announced node is alive, in ``role`` (None: unchanged)."""

    @abstractmethod
    def leave(self) -> None:
        """Remove the announced node (it stops on purpose); idempotent, a no-op before :meth:`announce`."""

    @abstractmethod
    def nodes(self) -> list[AnnouncedNode]:
        """The nodes this announcer can see, live and dead (see the class docstring)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections (idempotent). Does not leave: call :meth:`leave` first to."""

    def __enter__(self) -> NodeAnnouncer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


NODE_EVENTS_TOPIC = "cluster.nodes"
"""The bus topic on which announcers publish ``{"event": "node_joined" | "node_left", "node": {...}}``."""


__all__ = [
    "AnnouncedNode",
    "AnnouncementRejectedError",
    "MAX_LABELS",
    "NODE_EVENTS_TOPIC",
    "NODE_ID_PATTERN",
    "NODE_KINDS",
    "NODE_ROLES",
    "NodeAnnouncement",
    "NodeAnnouncer",
    "NodeAnnouncerError",
    "RegistryUnavailableError",
    "check_role",
]
