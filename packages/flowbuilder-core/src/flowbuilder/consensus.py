"""Core's consensus engines: ``store`` (a lease in the shared store) and ``noop``.

``flowbuilder scheduler`` asks a :class:`~flowbuilder.interfaces.ConsensusEngine` which of
the scheduler processes sharing a store is the active one (``--consensus NAME``, default
``store``); the others stand by. Engines are registered by name through
``flowbuilder_consensus_engines`` (core registers these two from its own plugin, a cluster
package adds ``raft``), and built with :meth:`ConsensusEngine.for_store`.

* :class:`StoreLeaseConsensus` (``store``) needs nothing but the store: the leader holds a
  named lease (:meth:`~flowbuilder.interfaces.coordination.CoordinationStore.acquire_lease`)
  that the store grants atomically, renews it every third of its TTL, and a standby takes it
  over once it expires (or at once, when the leader stops and releases it). Several
  processes on one machine, or machines sharing a Redis store, agree without a server of
  their own. The run owner leases (:mod:`flowbuilder.leases`) work the same way — a record
  with an owner and an expiry, renewed by a thread — but per run and written without a
  claim; this engine needs the claim, so it uses the coordination role.
* :class:`NoOpConsensus` (``noop``) makes its node the leader at once: right for one
  scheduler process, and wrong for two (both would lead; the idempotency keys still keep
  every logical time to one run, but both would try).

Fencing tokens (:meth:`ConsensusEngine.fencing_token`): ``store`` uses the lease's epoch,
which the store adds one to, atomically with the grant, whenever the lease is taken other
than as a renewal (:meth:`~flowbuilder.interfaces.coordination.CoordinationStore.acquire_lease_epoch`);
``noop`` the wall clock in nanoseconds when it started, which grows across restarts (the
newest of two ``noop`` schedulers on one store fences the older one out).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, ClassVar

from flowbuilder.interfaces.consensus import ConsensusEngine

if TYPE_CHECKING:
    from flowbuilder.interfaces.consensus import ClusterConfig
    from flowbuilder.interfaces.store import Store

DEFAULT_LEASE_SECONDS = 10.0
"""How long the ``store`` engine's lease holds after each renewal (``scheduler --lease-seconds``)."""
SCHEDULER_LEASE_NAME = "scheduler"
"""The named lease the scheduler processes of one store compete for."""


class NoOpConsensus(ConsensusEngine):
    """Its only node leads from :meth:`start` to :meth:`stop`."""

    name: ClassVar[str] = "noop"

    def __init__(self, node_id: str):
        super().__init__(node_id)
        self._leading = False
        self._token: int | None = None

    def start(self) -> None:
        if not self._leading:
            self._token = time.time_ns()
        self._leading = True

    def stop(self) -> None:
        self._leading = False
        self._token = None

    def fencing_token(self) -> int | None:
        return self._token if self._leading else None

    def is_leader(self) -> bool:
        return self._leading

    def leader(self) -> str | None:
        return self.node_id if self._leading else None


class StoreLeaseConsensus(ConsensusEngine):
    """Leads while it holds the store's named lease; a thread renews or competes for it.

    Args:
        node_id: this process's name in the lease (unique among the processes sharing it).
        store: the shared store (any store with the coordination role).
        lease_seconds: how long a renewal holds; a dead leader is replaced this long after
            its last renewal. It renews every third of it.
        lease_name: the lease competed for (one per group of schedulers).

    A node counts itself leader only until its lease would expire as it last saw it, so a
    leader cut off from the store steps down on its own before a standby can take over.
    """

    name: ClassVar[str] = "store"

    def __init__(self, node_id: str, store: Store | None = None, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 lease_name: str = SCHEDULER_LEASE_NAME):  # fmt: skip
        super().__init__(node_id)
        if store is None:
            from flowbuilder.errors import ConfigurationError

            raise ConfigurationError("the `store` consensus engine needs the shared store: build it with"
                                     " StoreLeaseConsensus.for_store(node_id, store)")  # fmt: skip
        if not lease_seconds > 0:
            from flowbuilder.errors import ConfigurationError

            raise ConfigurationError(f"the lease must last more than 0 seconds (got {lease_seconds!r})")
        self.store = store
        self.lease_seconds = float(lease_seconds)
        self.lease_name = lease_name
        self._holder: str | None = None
        self._epoch: int | None = None  # the epoch of our own holding, while we hold it
        self._valid_until = 0.0  # monotonic: our own lease as last granted
        self._holder_until = 0.0  # wall clock: the holder's expiry as last read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()

    @classmethod
    def for_store(cls, node_id: str, store: Store, *, lease_seconds: float | None = None,
                  cluster: ClusterConfig | None = None) -> ConsensusEngine:  # fmt: skip
        cls.refuse_cluster(cluster)
        return cls(node_id, store, lease_seconds=DEFAULT_LEASE_SECONDS if lease_seconds is None else lease_seconds)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._compete()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{self.node_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join()
        was_leading = self.is_leader()
        self._valid_until = 0.0
        self._holder = None
        self._epoch = None
        if was_leading:
            try:
                self.store.release_lease(self.lease_name, self.node_id)
            except Exception:  # the store is gone: the lease expires on its own
                pass

    def is_leader(self) -> bool:
        return self._holder == self.node_id and time.monotonic() < self._valid_until

    def fencing_token(self) -> int | None:
        with self._changed:  # the epoch and the validity of one grant, never of two
            epoch = self._epoch
            return epoch if self.is_leader() else None

    def leader(self) -> str | None:
        if self._holder == self.node_id:
            return self.node_id if self.is_leader() else None
        return self._holder if self._holder is not None and time.time() < self._holder_until else None

    def wait_for_leadership(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.is_leader():
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    break
                self._changed.wait(min(left, 0.25))
        return self.is_leader()

    def _compete(self) -> None:
        """One attempt to take or renew the lease; remembers who holds it."""
        asked = time.monotonic()
        try:
            holder, expires_at, epoch = self.store.acquire_lease_epoch(self.lease_name, self.node_id,
                                                                       self.lease_seconds)  # fmt: skip
        except Exception:  # the store is unreachable for now: keep what we knew, which expires
            return
        with self._changed:
            self._holder = holder
            self._holder_until = expires_at
            self._epoch = epoch if holder == self.node_id else None
            if holder == self.node_id:
                # Counted from before the call: the store's expiry is at least this late.
                self._valid_until = asked + self.lease_seconds
            self._changed.notify_all()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            self._compete()


__all__ = ["DEFAULT_LEASE_SECONDS", "NoOpConsensus", "SCHEDULER_LEASE_NAME", "StoreLeaseConsensus"]
