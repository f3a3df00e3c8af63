"""The ConsensusEngine interface: which scheduler of a cluster leads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from flowbuilder.interfaces.store import Store


class ConsensusEngine(ABC):
    """Elects one leader among the schedulers that share a store.

    Registered by ``name`` through ``flowbuilder_consensus_engines``. ``flowbuilder
    scheduler --consensus NAME`` builds one with :meth:`for_store` and starts runs only while
    :meth:`is_leader`; the others wait in :meth:`wait_for_leadership`. Core ships ``store``
    (a lease in the shared store: several processes on one machine, or on several sharing
    Redis) and ``noop`` (its only node leads), see :mod:`flowbuilder.consensus`; a cluster
    package adds Raft.
    """

    name: ClassVar[str]

    def __init__(self, node_id: str):
        self.node_id = node_id

    @classmethod
    def for_store(cls, node_id: str, store: Store, *, lease_seconds: float | None = None) -> ConsensusEngine:
        """The engine for the schedulers sharing ``store`` (not started yet).

        Called once per scheduler process. ``lease_seconds`` (``scheduler --lease-seconds``)
        is how soon a dead leader is replaced, for engines that have such a setting; others
        ignore it. Default: ``cls(node_id)``, right for engines that elect without the store
        (``noop``, Raft); an engine that coordinates through the store overrides it.
        """
        return cls(node_id)

    @abstractmethod
    def start(self) -> None:
        """Join the cluster (idempotent)."""

    @abstractmethod
    def stop(self) -> None:
        """Leave the cluster and release resources (idempotent)."""

    @abstractmethod
    def is_leader(self) -> bool:
        """Whether this node leads right now."""

    @abstractmethod
    def leader(self) -> str | None:
        """The current leader's node id, or None while none is known."""

    @abstractmethod
    def fencing_token(self) -> int | None:
        """The token of this node's current leadership, or None when it does not lead.

        Strictly greater with every change of leader (a later leadership never gets a token
        lower than or equal to an earlier one's, whichever node holds it), and the same for as
        long as one leadership lasts; an integer from 0 to 2**63-1. The scheduler fences
        every append of the runs it drives with it (:mod:`flowbuilder.fencing`), so the store
        refuses the writes of a leader that was deposed. Read it together with
        :meth:`is_leader`'s answer: a node that no longer leads returns None, never a stale
        token.
        """

    def wait_for_leadership(self, timeout: float) -> bool:
        """Block until this node leads or ``timeout`` seconds pass; True if it leads."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_leader():
                return True
            time.sleep(0.05)
        return self.is_leader()


__all__ = [
    "ConsensusEngine",
]
