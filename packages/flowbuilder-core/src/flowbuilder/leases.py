"""The owner lease: how a reader knows that the process running a run is still alive.

The process executing a run renews a :class:`RunLease` in the store (every
:data:`LEASE_RENEW_SECONDS`, valid for :data:`LEASE_TTL_SECONDS`; both configurable with
``FLOWBUILDER_LEASE_RENEW_SECONDS`` / ``FLOWBUILDER_LEASE_TTL_SECONDS``). A run whose last
recorded status is ``running`` but whose lease expired — or whose owner ran on this host
and that process is gone — reads as :attr:`~flowbuilder.events.RunStatus.INTERRUPTED`.
That status is derived when a run is read (:func:`effective_status`), never stored, so a
reader that knows nothing of leases still sees ``running`` and nothing stored changes
meaning. A run without any lease (started by a runner or store predating leases) is shown
as recorded: there is nothing to judge it by.

Expiry compares wall clocks, so hosts sharing a store should keep their clocks in sync to
well within the TTL (NTP does).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import UNREADABLE_RECORD, ConfigurationError, unreadable_record
from flowbuilder.events import RunStatus

if TYPE_CHECKING:
    from flowbuilder.interfaces.store import RunPage, RunSummary, Store

LEASE_RENEW_SECONDS = 2.0
"""How often the owner renews its runs' leases."""
LEASE_TTL_SECONDS = 10.0
"""How long a lease stays valid after a renewal: a run reads as interrupted this long after its owner died."""


@dataclass(frozen=True, slots=True)
class RunLease:
    """Who runs ``run_id`` and until when that claim holds (``expires_at``, epoch seconds)."""

    run_id: str
    owner: str
    host: str
    pid: int
    renewed_at: float
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "owner": self.owner, "host": self.host, "pid": self.pid,
                "renewed_at": self.renewed_at, "expires_at": self.expires_at}  # fmt: skip

    def describe(self) -> str:
        """``pid 123 on host-a (lease valid 8.0s more)`` — for messages naming the owner."""
        left = self.expires_at - time.time()
        validity = f"valid {left:.1f}s more" if left > 0 else f"expired {-left:.1f}s ago"
        return f"pid {self.pid} on {self.host} (lease {validity})"


def encode_lease(lease: RunLease) -> bytes:
    """The stored form: compact JSON (every store keeps the same)."""
    return json.dumps(lease.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()


def decode_lease(raw: bytes | str) -> RunLease:
    try:
        data = json.loads(raw)
        return RunLease(run_id=data["run_id"], owner=data["owner"], host=data["host"], pid=int(data["pid"]),
                        renewed_at=float(data["renewed_at"]), expires_at=float(data["expires_at"]))  # fmt: skip
    except UNREADABLE_RECORD as error:
        raise unreadable_record("a stored run lease", error) from None


_TTL_CAP: float | None = None


def cap_lease_ttl(seconds: float | None) -> None:
    """Keep the owner leases this process writes from now on to at most ``seconds`` (None: no cap).

    A scheduler of a cluster calls it while it runs (with two thirds of its ``--lease-seconds``,
    :func:`flowbuilder.scheduler.run_lease_for`): a standby that becomes leader takes over a
    dead leader's runs once their leases lapse, so they must have lapsed by the time it can
    lead. Leases are then renewed every quarter of the cap, or more often if configured so.
    Read by the runner's lease renewer when it starts (once per store and process).
    """
    global _TTL_CAP
    if seconds is not None and not seconds > 0:
        raise ConfigurationError(f"a lease lasts more than 0 seconds (got {seconds!r})")
    _TTL_CAP = seconds


def lease_timing() -> tuple[float, float]:
    """``(renew every, valid for)`` seconds: the defaults or the ``FLOWBUILDER_LEASE_*`` environment,
    within the cap of :func:`cap_lease_ttl`."""

    def read(name: str, default: float) -> float:
        raw = os.environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ConfigurationError(f"{name}={raw!r} must be a number of seconds > 0")
        return value

    renew = read("FLOWBUILDER_LEASE_RENEW_SECONDS", LEASE_RENEW_SECONDS)
    ttl = read("FLOWBUILDER_LEASE_TTL_SECONDS", LEASE_TTL_SECONDS)
    cap = _TTL_CAP
    if cap is not None and ttl > cap:
        ttl, renew = cap, min(renew, cap / 4)
    if ttl <= renew:
        raise ConfigurationError(f"the lease TTL ({ttl:g}s) must be longer than its renewal interval ({renew:g}s);"
                                 " set FLOWBUILDER_LEASE_TTL_SECONDS to a few renewals")  # fmt: skip
    return renew, ttl


def new_lease(run_id: str, owner: str, ttl: float, now: float | None = None) -> RunLease:
    """A lease of this process on ``run_id``, valid ``ttl`` seconds from ``now``."""
    now = time.time() if now is None else now
    return RunLease(run_id, owner, socket.gethostname(), os.getpid(), now, now + ttl)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # exists (another user's), or cannot tell
    return False


_RUNS_OWNED_HERE: set[str] = set()


def mark_owned_here(run_id: str, owned: bool) -> None:
    """Runners call this when this process starts (True) and stops (False) executing ``run_id``.

    A process knows its own runs exactly, so for a lease of this very process
    :func:`lease_is_live` asks this instead of the clock: a run whose execution ended
    without finishing (its store failed) can be resumed here at once.
    """
    if owned:
        _RUNS_OWNED_HERE.add(run_id)
    else:
        _RUNS_OWNED_HERE.discard(run_id)


def lease_is_live(lease: RunLease | None, now: float | None = None) -> bool:
    """Whether ``lease`` still holds: not expired and, if its owner ran on this host, that process
    exists (and, if it is this process, still executes the run)."""
    if lease is None:
        return False
    if lease.pid == os.getpid() and lease.host == socket.gethostname():
        return lease.run_id in _RUNS_OWNED_HERE
    now = time.time() if now is None else now
    if lease.expires_at <= now:
        return False
    # The fast path: no need to wait out the TTL of an owner on this host known to be dead.
    return not (lease.host == socket.gethostname() and _process_gone(lease.pid))


def effective_status(recorded: RunStatus, lease: RunLease | None, now: float | None = None) -> RunStatus:
    """The status to show: ``interrupted`` for a running run whose owner's lease lapsed, else ``recorded``."""
    if recorded is RunStatus.RUNNING and lease is not None and not lease_is_live(lease, now):
        return RunStatus.INTERRUPTED
    return recorded


def with_live_status(store: Store, summary: RunSummary) -> RunSummary:
    """``summary`` with its status as readers should see it (reads the lease only of a running run)."""
    if summary.status is not RunStatus.RUNNING:
        return summary
    summary.status = effective_status(summary.status, store.read_lease(summary.run_id))
    return summary


def list_runs_live(store: Store, *, workflow: str | None = None, status: RunStatus | None = None,
                   since: float | None = None, until: float | None = None, limit: int = 50,
                   cursor: str | None = None) -> RunPage:  # fmt: skip
    """:meth:`Store.list_runs` with derived statuses: ``interrupted`` filters on it, ``running`` excludes it.

    Stores index the recorded status only, so for ``running`` or ``interrupted`` this reads
    recorded-running pages until ``limit`` runs match (the cursor stays the store's).
    """
    from flowbuilder.interfaces.store import RunPage

    if status not in (RunStatus.RUNNING, RunStatus.INTERRUPTED):
        page = store.list_runs(workflow=workflow, status=status, since=since, until=until, limit=limit, cursor=cursor)
        page.runs = [with_live_status(store, summary) for summary in page.runs]
        return page
    chosen: list[RunSummary] = []
    while True:
        page = store.list_runs(workflow=workflow, status=RunStatus.RUNNING, since=since, until=until,
                               limit=limit - len(chosen), cursor=cursor)  # fmt: skip
        chosen.extend(s for s in (with_live_status(store, s) for s in page.runs) if s.status is status)
        cursor = page.next_cursor
        if cursor is None or len(chosen) >= limit:
            return RunPage(runs=chosen, next_cursor=cursor)


__all__ = [
    "LEASE_RENEW_SECONDS",
    "LEASE_TTL_SECONDS",
    "RunLease",
    "cap_lease_ttl",
    "decode_lease",
    "effective_status",
    "encode_lease",
    "lease_is_live",
    "lease_timing",
    "list_runs_live",
    "mark_owned_here",
    "new_lease",
    "with_live_status",
]
