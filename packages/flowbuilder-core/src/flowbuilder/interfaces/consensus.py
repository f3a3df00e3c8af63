"""The ConsensusEngine interface: which scheduler of a cluster leads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar


class ConsensusEngine(ABC):
    """Elects one leader among the schedulers that share a store.

    Registered by ``name`` through ``flowbuilder_consensus_engines``. On one machine the
    no-op engine makes its only node the leader; a cluster uses Raft. Only the leader
    advances runs; the others wait in :meth:`wait_for_leadership`.
    """

    name: ClassVar[str]

    def __init__(self, node_id: str):
        self.node_id = node_id

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
