"""Run-finished triggers: start a workflow's run when a run of another workflow ends.

``on: {run_finished: {workflow: NAME, status: [succeeded]}}`` (issue 11, item 2 — only this
trigger so far) is handled by the active ``flowbuilder scheduler``, beside the schedules:

* each round it lists the runs of ``NAME`` created since its watermark (the store record
  ``trigger:since:<workflow>``; the moment the scheduler first led, for a new trigger), a page
  of :data:`LISTED_PER_ROUND` at a time, the next round going on from the store's cursor;
* a run already finished is handled at once; an unfinished one is followed through the
  store's subscription (:meth:`~flowbuilder.interfaces.EventLog.subscribe`), which ends
  with its ``run_finished`` — pushed, not polled — and is handled then (at most
  :data:`MAX_FOLLOWED` subscriptions at once; the others are seen finished on a later round);
* handling a run whose status is in ``status`` starts the workflow through the run service
  with the idempotency key ``trigger:<workflow>:<upstream run id>``, so each finished run
  starts at most one run, whatever the number of schedulers or restarts;
* the payload becomes params: the declared params among ``upstream_run_id``,
  ``upstream_workflow`` and ``upstream_status`` (:data:`~flowbuilder.model.TRIGGER_PAYLOAD_PARAMS`)
  receive the finished run's id, workflow and status, validated like any param.

The watermark only moves past runs that finished, so a standby that takes over re-lists
every run still running, and a run that finished while no scheduler led is handled on the
next start (the claim keeps it to one run).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from flowbuilder.events import RunStatus

if TYPE_CHECKING:
    from flowbuilder.interfaces.store import Store
    from flowbuilder.model import RunFinishedTrigger

MAX_FOLLOWED = 4
"""Unfinished upstream runs followed by subscription at once (each holds an executor thread)."""
LISTED_PER_ROUND = 1000
"""Upstream runs read per round; a busier upstream is caught up over the next rounds."""


def watermark_record_key(workflow: str) -> str:
    """The store record holding the creation time from which ``workflow``'s trigger lists runs."""
    return f"trigger:since:{workflow}"


def trigger_key(workflow: str, upstream_run_id: str) -> str:
    """The idempotency key of the run that ``upstream_run_id`` finishing starts."""
    return f"trigger:{workflow}:{upstream_run_id}"


def trigger_params(declared: Any, upstream_run_id: str, upstream_workflow: str, status: str) -> dict[str, str]:
    """The payload entries that the workflow declares as params (``declared``: its params mapping)."""
    payload = {"upstream_run_id": upstream_run_id, "upstream_workflow": upstream_workflow, "upstream_status": status}
    return {name: value for name, value in payload.items() if name in declared}


Fire = Callable[[str, RunStatus], Awaitable[None]]
"""What the watcher calls for a finished upstream run whose status matches: ``(run id, status)``."""


class RunFinishedWatcher:
    """Finds the finished runs of one trigger's upstream workflow, each once per process.

    Args:
        workflow: the triggered workflow's name (for the watermark record).
        trigger: its ``on.run_finished``.
        store: the shared store.
        fire: called (awaited) once per finished upstream run whose status matches.
        start_after: epoch seconds; used as the watermark when none is recorded.
    """

    def __init__(self, workflow: str, trigger: RunFinishedTrigger, store: Store, fire: Fire, start_after: float):
        self.workflow = workflow
        self.trigger = trigger
        self.store = store
        self.fire = fire
        self.start_after = start_after
        self.wanted = {RunStatus(status) for status in trigger.status}
        self._handled: set[str] = set()
        self._followed: dict[str, asyncio.Task[None]] = {}
        self._cursor: str | None = None
        """Where the current pass over the runs since the watermark goes on (None: a new pass)."""
        self._since = start_after
        self._newest = start_after
        self._oldest_open: float | None = None

    async def round(self) -> None:
        """Read the next page of upstream runs since the watermark; handle the finished, follow the others.

        A pass reads the runs created since the watermark, newest first, one page of
        :data:`LISTED_PER_ROUND` per round, following the store's cursor, so a backlog of any
        size is read whole over a few rounds (not only its newest page, which left the older
        runs untriggered and the watermark stuck). At the end of a pass the watermark moves to
        the oldest run still open, or past the newest run seen.
        """
        key = watermark_record_key(self.workflow)
        if self._cursor is None:  # a new pass, from the newest run
            recorded = self.store.read_record(key)
            self._since = float(recorded) if recorded else self.start_after
            self._newest, self._oldest_open = self._since, None
        page = self.store.list_runs(workflow=self.trigger.workflow, since=self._since, limit=LISTED_PER_ROUND,
                                    cursor=self._cursor)  # fmt: skip
        for summary in page.runs:
            self._newest = max(self._newest, summary.created_at)
            if summary.run_id in self._handled:
                continue
            if summary.status.finished:
                await self._handle(summary.run_id, summary.status)
                continue
            opened = summary.created_at
            self._oldest_open = opened if self._oldest_open is None else min(self._oldest_open, opened)
            if summary.run_id not in self._followed and len(self._followed) < MAX_FOLLOWED:
                self._followed[summary.run_id] = asyncio.ensure_future(self._follow(summary.run_id))
        self._cursor = page.next_cursor
        if self._cursor is None:
            moved = self._oldest_open if self._oldest_open is not None else self._newest
            # Never past this clock: a run stamped in the future by a host whose clock ran ahead
            # would move the watermark there, and every run created (correctly stamped) until
            # then would be listed by no pass. Runs listed twice fire once (handled, claimed).
            moved = min(moved, time.time())
            if moved > self._since:
                self.store.write_record(key, repr(moved))

    async def _follow(self, run_id: str) -> None:
        try:
            async for update in self.store.subscribe(run_id):
                for event in update.events:
                    if event.kind.value == "run_finished":
                        await self._handle(run_id, RunStatus(event.data["status"]))
                        return
        finally:
            self._followed.pop(run_id, None)

    async def _handle(self, run_id: str, status: RunStatus) -> None:
        if run_id in self._handled:
            return
        self._handled.add(run_id)
        if status in self.wanted:
            await self.fire(run_id, status)

    async def close(self) -> None:
        """Stop following (the runs stay; the next leader lists them again)."""
        followed = list(self._followed.values())
        for task in followed:
            task.cancel()
        if followed:
            await asyncio.gather(*followed, return_exceptions=True)


__all__ = [
    "LISTED_PER_ROUND",
    "MAX_FOLLOWED",
    "RunFinishedWatcher",
    "trigger_key",
    "trigger_params",
    "watermark_record_key",
]
