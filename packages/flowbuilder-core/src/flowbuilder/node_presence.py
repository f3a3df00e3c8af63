"""Keeping one node present in the cluster's registry while it runs: announce, heartbeat, leave.

:class:`NodePresence` is what :class:`~flowbuilder.scheduler.Scheduler` (and any long-lived
node) wraps around its work: it announces the node through a
:class:`~flowbuilder.interfaces.node_announcer.NodeAnnouncer`, heartbeats every ``interval``
seconds with the node's current role (at once when :meth:`NodePresence.role_changed` says the
role moved, so a new leader shows without waiting a whole interval), and leaves on a clean
stop. A killed node does none of this: the registry ages it out.

The registry is for operators, not for correctness: a heartbeat that fails (Redis down) is
logged once, retried at the next interval, and never stops the node's work. Only the first
announcement may fail the start, so that a wrong ``--registry`` is a one-line error at once
instead of a node silently missing from ``cluster status``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Callable

from flowbuilder.interfaces.node_announcer import NodeAnnouncerError

if TYPE_CHECKING:
    from flowbuilder.interfaces.node_announcer import NodeAnnouncement, NodeAnnouncer

DEFAULT_HEARTBEAT_SECONDS = 2.0
"""Seconds between heartbeats unless ``--heartbeat`` / ``[registry] heartbeat`` says otherwise."""
STOP_WAIT_SECONDS = 10.0
"""The longest :meth:`NodePresence.stop` waits for a heartbeat in flight before it leaves anyway."""


class NodePresence:
    """One node's announcement, kept alive by an asyncio task between :meth:`start` and :meth:`stop`.

    Args:
        announcer: where the node is announced (core's ``noop`` one when no registry is configured).
        announcement: the node; its ``role`` is replaced by ``role_of()`` at every heartbeat.
        role_of: the node's current role (``leader`` / ``standby`` for a scheduler, from its
            consensus engine); called on the event loop, so it must be cheap.
        interval: seconds between heartbeats.
        log: where the one-line notices about an unreachable registry go.
    """

    def __init__(self, announcer: NodeAnnouncer, announcement: NodeAnnouncement, role_of: Callable[[], str], *,
                 interval: float = DEFAULT_HEARTBEAT_SECONDS, log: Callable[[str], None] = print):  # fmt: skip
        self.announcer = announcer
        self.announcement = announcement
        self.role_of = role_of
        self.interval = interval
        self.log = log
        self.heartbeats = 0
        """Heartbeats recorded so far (for tests and diagnostics)."""
        self._wake = asyncio.Event()
        """Set when the role changed, or to stop: the heartbeat loop wakes before its interval."""
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def start(self) -> None:
        """Announce the node (raises :class:`NodeAnnouncerError` if the registry refuses or is down) and
        start heartbeating."""
        await asyncio.to_thread(self.announcer.announce, self.announcement.with_role(self.role_of()))
        self._task = asyncio.create_task(self._heartbeat_loop())

    def role_changed(self) -> None:
        """Heartbeat now rather than at the next interval (the caller's role just moved)."""
        self._wake.set()

    async def _heartbeat_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await asyncio.to_thread(self.announcer.heartbeat, self.role_of())
            except NodeAnnouncerError as error:
                if not self._failing:
                    self.log(f"registry: heartbeat failed, retrying every {self.interval:g}s: {error}")
                self._failing = True
                continue
            self.heartbeats += 1
            if self._failing:
                self.log("registry: heartbeats recorded again")
                self._failing = False

    async def stop(self) -> None:
        """Stop heartbeating and leave the registry (a failure to leave is logged: the node then ages out).

        The loop is told to end through a flag and its wake-up event, not by cancelling it:
        Python 3.11's ``wait_for`` drops a cancellation that arrives as the awaited event is
        set (a role change just before a ``--once`` exit did exactly that), and the loop
        would then beat forever. It ends at its next turn; a heartbeat in flight is bounded
        by the announcer's own timeout, and after :data:`STOP_WAIT_SECONDS` it is abandoned.
        """
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._wake.set()
            done, _ = await asyncio.wait({task}, timeout=STOP_WAIT_SECONDS)
            if not done:
                task.cancel()
        try:
            await asyncio.to_thread(self.announcer.leave)
        except NodeAnnouncerError as error:
            self.log(f"registry: could not leave, the node will age out: {error}")


__all__ = ["DEFAULT_HEARTBEAT_SECONDS", "NodePresence", "STOP_WAIT_SECONDS"]
