"""The ConsensusEngine interface: which scheduler of a cluster leads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from pathlib import Path

    from flowbuilder.interfaces.store import Store


CLUSTER_SECRET_ENV = "FLOWBUILDER_CLUSTER_SECRET"  # noqa: S105 - a variable's name, not a secret
"""The environment variable that holds a cluster's shared secret (when no secret file is given)."""


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Who the members of a cluster engine's cluster are, and what they share.

    What ``flowbuilder scheduler --cluster HOST:PORT,... --node HOST:PORT`` gives an engine
    that elects over the network (Raft) through :meth:`ConsensusEngine.for_store`. Engines
    that elect without a network of their own (``store``, ``noop``) refuse it.

    Attributes:
        node: this node's address, ``HOST:PORT``: its id in the cluster and the only address
            it listens on.
        members: every voting member's address, ``node`` included, in the order given.
        secret: the shared secret that authenticates and encrypts the members' traffic;
            read from ``$FLOWBUILDER_CLUSTER_SECRET`` (:data:`CLUSTER_SECRET_ENV`) or a file,
            never from the command line, and left out of ``repr`` (logs, tracebacks).
        state_dir: where the engine keeps what must survive a restart (Raft: its term, so
            fencing tokens keep growing after the whole cluster restarts); None keeps it in
            memory.
    """

    node: str
    members: tuple[str, ...]
    secret: str | None = field(default=None, repr=False)
    state_dir: Path | None = None

    def __post_init__(self) -> None:
        from flowbuilder.errors import ConfigurationError

        if self.node not in self.members:
            raise ConfigurationError(f"this node {self.node!r} is not one of the cluster's members"
                                     f" ({', '.join(self.members)}): list it in --cluster")  # fmt: skip
        if len(set(self.members)) != len(self.members):
            raise ConfigurationError(f"a member is listed twice in the cluster ({', '.join(self.members)})")

    @property
    def peers(self) -> tuple[str, ...]:
        """The members other than this node."""
        return tuple(member for member in self.members if member != self.node)


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
    def for_store(cls, node_id: str, store: Store, *, lease_seconds: float | None = None,
                  cluster: ClusterConfig | None = None) -> ConsensusEngine:  # fmt: skip
        """The engine for the schedulers sharing ``store`` (not started yet).

        Called once per scheduler process. ``lease_seconds`` (``scheduler --lease-seconds``)
        is how soon a dead leader is replaced, for engines that have such a setting; others
        ignore it. ``cluster`` (``scheduler --cluster/--node``) names the members of an
        engine that elects over a network of its own (Raft overrides this method to use it).
        Default: ``cls(node_id)``, right for ``noop``; it refuses a ``cluster`` with a
        :class:`~flowbuilder.errors.ConfigurationError`, as every engine without one must.
        """
        cls.refuse_cluster(cluster)
        return cls(node_id)

    @classmethod
    def refuse_cluster(cls, cluster: ClusterConfig | None) -> None:
        """Raise :class:`~flowbuilder.errors.ConfigurationError` when a ``cluster`` was given to
        an engine that has none (so ``--cluster`` is never silently ignored)."""
        if cluster is not None:
            from flowbuilder.errors import ConfigurationError

            raise ConfigurationError(f"the `{cls.name}` consensus engine does not take --cluster/--node:"
                                     " drop them, or choose a cluster engine (--consensus raft)")  # fmt: skip

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
    "CLUSTER_SECRET_ENV",
    "ClusterConfig",
    "ConsensusEngine",
]
