"""The runs this server executes: started through the run service, cancelled on shutdown.

Every start (new, resumed, retried) goes through :meth:`RunService.submit
<flowbuilder.run_service.RunService.submit>` on the server's loop with the run's metrics
sink; the handles are kept so that a stopping server cancels its runs and waits until
they are recorded as cancelled.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Sequence

from flowbuilder.events import RunEvent
from flowbuilder.interfaces.sink import EventSink

if TYPE_CHECKING:
    from flowbuilder.run_service import PreparedRun, RunHandle, RunService
    from flowui.metrics import ServerMetrics


START_WAIT_SECONDS = 10.0
"""How long a start waits for the run's first recorded events before answering anyway."""


class LocalRuns:
    """Submits prepared runs and remembers the unfinished ones by id."""

    def __init__(self, service: RunService, metrics: ServerMetrics) -> None:
        self.service = service
        self.metrics = metrics
        self.handles: dict[str, RunHandle] = {}
        self._waiters: dict[str, asyncio.Task[None]] = {}

    async def start(self, prepared: PreparedRun) -> RunHandle:
        """Start ``prepared`` on the running loop; returns once its first events are recorded, so
        the caller's next request finds the run in the store (or raises what the runner raised
        before recording anything)."""
        recorded = _FirstBatch()
        handle = await self.submit(prepared, sinks=[recorded])
        waiter = self._waiters[prepared.run_id]
        first = asyncio.ensure_future(recorded.seen.wait())
        await asyncio.wait([first, waiter], timeout=START_WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        first.cancel()
        if not recorded.seen.is_set() and handle.done():
            await handle.result()  # raises the runner's error (a 4xx/5xx for the caller)
        return handle

    async def submit(self, prepared: PreparedRun, *, sinks: Sequence[EventSink] = (), concurrency: int | None = None,
                     replay: bool = False) -> RunHandle:  # fmt: skip
        """Submit ``prepared`` with the metrics sink and keep its handle (cancelled on shutdown); no waiting.

        The gRPC API starts its runs here too, so that every run this server executes is
        counted in ``/metrics`` and cancelled and recorded when the server stops.
        """
        sink = self.metrics.sink(_unfinished_tasks(prepared))
        try:
            handle = await self.service.submit(prepared, sinks=[*sinks, sink], concurrency=concurrency, replay=replay)
        except BaseException:
            sink.close()
            raise
        self.handles[prepared.run_id] = handle
        self._waiters[prepared.run_id] = asyncio.get_running_loop().create_task(self._forget_when_done(handle))
        return handle

    async def _forget_when_done(self, handle: RunHandle) -> None:
        try:
            await handle.result()
        except BaseException:
            pass
        finally:
            self.handles.pop(handle.run_id, None)
            self._waiters.pop(handle.run_id, None)

    def cancel_here(self, run_id: str) -> bool:
        """Cancel a run this server executes (False: not one of ours; use the control channel)."""
        handle = self.handles.get(run_id)
        if handle is None:
            return False
        handle.cancel()
        return True

    async def cancel_all(self, timeout: float) -> int:
        """Cancel every run in progress and wait up to ``timeout`` s for them to be recorded; how many were cancelled."""
        waiters = list(self._waiters.values())
        for handle in list(self.handles.values()):
            handle.cancel()
        if waiters:
            await asyncio.wait(waiters, timeout=timeout)
        return len(waiters)


class _FirstBatch(EventSink):
    """Sets :attr:`seen` when the run's first events have been recorded (sinks see stored events)."""

    def __init__(self) -> None:
        self.seen = asyncio.Event()

    def handle(self, events: Sequence[RunEvent]) -> None:
        if events and not self.seen.is_set():
            self.seen.set()

    def close(self) -> None:
        self.seen.set()


def _unfinished_tasks(prepared: PreparedRun) -> int:
    """How many tasks the run has left to run (its queue depth when it starts)."""
    if prepared.retry is not None:
        return len(prepared.retry.get("rerun") or ())
    if prepared.resume is not None:
        done = sum(1 for state in prepared.resume.tasks.values() if state.status.finished)
        return max(len(prepared.plan) - done, 0)
    return len(prepared.plan)


__all__ = ["LocalRuns"]
