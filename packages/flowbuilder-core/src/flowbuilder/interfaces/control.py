"""The control role of a store: requests for a run from any process, and its owner's lease.

:class:`ControlChannel` is a role that :class:`~flowbuilder.interfaces.Store` inherits (like
``AnnotationStore``); a component that only steers runs types against it. Its
methods have defaults, so a store written before them keeps working: it keeps no requests
(:meth:`~ControlChannel.request_control` refuses with a one-line error, the owner finds none)
and no leases (its runs are never shown ``interrupted``). A store overrides all five to take
part; the Store contract (version 4) checks them.

Guarantees a store that overrides them gives:

* requests are a key space of their own beside a run's events and annotations, numbered
  1, 2, ... in arrival order, from any number of writers at once; recording one never
  changes the run's event sequence, so it never causes a
  :class:`~flowbuilder.errors.SequenceConflictError`;
* :meth:`~ControlChannel.wait_for_control` returns as soon as a request for one of the
  watched runs is recorded, by any process sharing the store (pushed, not polled);
* a lease is one record per run, replaced whole by each renewal; both go with
  :meth:`~flowbuilder.interfaces.Store.delete_run`.
"""

from __future__ import annotations

import time
from abc import ABC
from typing import TYPE_CHECKING, ClassVar, Mapping, Sequence

if TYPE_CHECKING:
    from flowbuilder.control import ControlRequest
    from flowbuilder.leases import RunLease

CONTROL_POLL_SECONDS = 0.25
"""How often the default :meth:`ControlChannel.wait_for_control` reads again (stores without push)."""


class ControlChannel(ABC):
    """Control requests and owner leases of a store's runs (see the module docstring)."""

    scheme: ClassVar[str]

    def request_control(self, run_id: str, request: ControlRequest) -> ControlRequest:
        """Record ``request`` for the run; return it with its ``number``.

        :class:`~flowbuilder.errors.RunNotFoundError` for an unknown run;
        :class:`~flowbuilder.errors.StoreError` for a request that
        :func:`~flowbuilder.control.encode_control_request` refuses (bad action or signal
        name, payload not JSON or over :data:`~flowbuilder.control.MAX_CONTROL_BYTES`).
        Whether the run has finished is the caller's concern (the run service refuses
        those); a store records the request for any run it holds. The default refuses: the
        store keeps no control requests.
        """
        from flowbuilder.errors import StoreError

        raise StoreError(f"the {self.scheme}:// store does not keep control requests (its plugin predates them);"
                         " upgrade the plugin, or stop the run's process itself")  # fmt: skip

    def read_control_requests(self, run_id: str, after: int = 0) -> list[ControlRequest]:
        """The run's requests numbered above ``after``, in number order (empty if none or unknown run)."""
        return []

    def wait_for_control(self, after: Mapping[str, int], timeout: float) -> dict[str, list[ControlRequest]]:
        """Requests of the runs in ``after`` numbered above ``after[run_id]``, waiting up to
        ``timeout`` seconds for the first; ``{}`` when none came. Only runs with requests appear.

        One call watches many runs, so a process running thousands of runs waits on one
        thread. Stores should wake it as soon as a request is recorded; the default reads
        again every :data:`CONTROL_POLL_SECONDS`.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            found = {run_id: got for run_id, seen in after.items() if (got := self.read_control_requests(run_id, seen))}
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            time.sleep(min(CONTROL_POLL_SECONDS, left))

    def renew_leases(self, leases: Sequence[RunLease]) -> None:
        """Write each lease, replacing the run's previous one (one call for all of an owner's runs).

        Called by the process running the runs, every few seconds. The default keeps nothing.
        """

    def read_lease(self, run_id: str) -> RunLease | None:
        """The run's newest lease, expired or not; None if it has none (or the store keeps none)."""
        return None


__all__ = ["CONTROL_POLL_SECONDS", "ControlChannel"]
