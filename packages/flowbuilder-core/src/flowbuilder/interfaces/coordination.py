"""The coordination role of a store: claimed keys, small records and named leases.

Processes that share a store agree through it on three things, each decided by the store
itself (atomically, whatever the number of processes), never by a read-then-write in the
caller:

* a **claimed key** is written once: :meth:`CoordinationStore.claim_key` records a value
  under a key unless one is there, and says which value holds. The run service claims
  ``schedule:<workflow>:<logical time>`` before it starts a scheduled run, so one logical
  time never gets two runs (:meth:`flowbuilder.run_service.RunService.claim`);
* a **record** is a small value replaced whole (:meth:`~CoordinationStore.write_record`),
  such as the newest logical time a scheduler handled for a workflow;
* a **named lease** has one holder until it expires (:meth:`~CoordinationStore.acquire_lease`),
  which is how the store-backed consensus engine elects one active scheduler
  (:mod:`flowbuilder.consensus`). Each lease counts its holders: its *epoch* grows every
  time it is taken other than as a renewal of a live holding
  (:meth:`~CoordinationStore.acquire_lease_epoch`), which makes it a fencing token
  (:mod:`flowbuilder.fencing`).

:class:`CoordinationStore` is a role that :class:`~flowbuilder.interfaces.Store` inherits.
Its methods have defaults that refuse with a one-line :class:`~flowbuilder.errors.StoreError`
(a store written before them keeps working for everything else); a store overrides all
of them to take part, and the Store contract (version 6; 7 for the lease epoch) checks them.

Guarantees a store that overrides them gives:

* of any number of racing :meth:`~CoordinationStore.claim_key` calls for one key, from any
  processes, exactly one records its value; every call returns that value. Calling again
  with the value that holds returns it (so a call retried after a lost connection that had
  landed reads as won);
* :meth:`~CoordinationStore.acquire_lease` takes the lease when it is free, expired, or
  already held by the same ``owner`` (a renewal), atomically; otherwise it leaves it alone.
  Expiry compares wall clocks (as run leases do), so hosts sharing a store keep them in
  sync to well within the TTL;
* :meth:`~CoordinationStore.acquire_lease_epoch` (and :meth:`~CoordinationStore.acquire_lease`,
  which is the same step) keeps the lease's epoch when the call renews a holding that has
  not expired, and adds one to it in the same atomic step whenever the lease is taken
  otherwise (free, released, expired, or never held): two holdings, even by one owner with
  a release or an expiry between them, never share an epoch, and a later one always has the
  greater. Epochs survive release and expiry;
* keys, records and leases survive reopening the store; they belong to no run, so
  :meth:`~flowbuilder.interfaces.Store.delete_run` leaves them.
"""

from __future__ import annotations

from abc import ABC
from typing import ClassVar, NamedTuple

MAX_COORDINATION_KEY = 1024
"""The longest key or lease name a store must accept (characters)."""
MAX_COORDINATION_VALUE = 64 * 1024
"""The largest value a store must accept (characters)."""


def check_coordination_text(what: str, text: str, limit: int) -> None:
    """Raise StoreError unless ``text`` is a non-empty ``str`` of at most ``limit`` characters."""
    from flowbuilder.errors import StoreError

    if not isinstance(text, str) or not text:
        raise StoreError(f"a coordination {what} must be non-empty text, not {text!r}")
    if len(text) > limit:
        raise StoreError(f"a coordination {what} is at most {limit} characters (got {len(text)})")


class LeaseGrant(NamedTuple):
    """What :meth:`CoordinationStore.acquire_lease_epoch` found after its step."""

    holder: str
    """Who holds the lease (the caller when it got it)."""
    expires_at: float
    """When the holding ends unless renewed (epoch seconds)."""
    epoch: int
    """The holding's number: greater than that of every earlier holding of the lease (1 for the first)."""


class CoordinationStore(ABC):
    """Claimed keys, records and named leases of a store (see the module docstring)."""

    scheme: ClassVar[str]

    def _no_coordination(self) -> Exception:
        from flowbuilder.errors import StoreError

        return StoreError(f"the {self.scheme}:// store keeps no coordination records (its plugin predates them),"
                          " so it cannot host schedules; upgrade the plugin or use rocksdb://, redis://")  # fmt: skip

    def claim_key(self, key: str, value: str) -> str:
        """Record ``value`` under ``key`` unless the key holds a value; return the value it holds
        afterwards (``value`` itself when this call claimed it). Claimed keys are never replaced."""
        raise self._no_coordination()

    def read_record(self, key: str) -> str | None:
        """The value under ``key`` (claimed or written), or None."""
        raise self._no_coordination()

    def write_record(self, key: str, value: str) -> None:
        """Replace the value under ``key`` (a record, not a claim: last writer wins)."""
        raise self._no_coordination()

    def acquire_lease(self, name: str, owner: str, ttl: float) -> tuple[str, float]:
        """Take or renew the lease ``name`` for ``owner`` for ``ttl`` seconds if it is free,
        expired or already ``owner``'s; return ``(holder, expires_at)`` after the call
        (epoch seconds; ``holder == owner`` when this call holds it)."""
        raise self._no_coordination()

    def acquire_lease_epoch(self, name: str, owner: str, ttl: float) -> LeaseGrant:
        """:meth:`acquire_lease`, also returning the holding's epoch (see the module docstring).

        The epoch of the holder returned, read in the same atomic step as the grant: when
        ``holder == owner`` it is the caller's own fencing token for as long as it renews.
        """
        raise self._no_coordination()

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up if ``owner`` holds it (a standby takes over at once); else nothing."""
        raise self._no_coordination()


__all__ = ["MAX_COORDINATION_KEY", "MAX_COORDINATION_VALUE", "CoordinationStore", "LeaseGrant",
           "check_coordination_text"]  # fmt: skip
