"""The run-finished trigger's watcher: every finished upstream run fires once, however many there are."""

from __future__ import annotations

import asyncio
import time
import uuid

from flowbuilder.events import EventKind, RunEvent, RunStatus
from flowbuilder.model import RunFinishedTrigger
from flowbuilder.stores.memory import MemoryStore
from flowbuilder.triggers import LISTED_PER_ROUND, RunFinishedWatcher, watermark_record_key

T0 = 1_700_000_000.0  # in the past: the watermark never passes the clock


def add_finished_runs(store: MemoryStore, count: int) -> list[str]:
    """``count`` succeeded runs of workflow ``up``, created one second apart from T0."""
    run_ids = []
    for number in range(count):
        run_id = f"up-{number:05d}"
        created = {"workflow": "up", "version": "1", "definition_hash": "x", "params": {}}
        store.append_events(run_id, [
            RunEvent(run_id, 1, EventKind.RUN_CREATED, data=created, time=T0 + number),
            RunEvent(run_id, 2, EventKind.RUN_STARTED, time=T0 + number),
            RunEvent(run_id, 3, EventKind.RUN_FINISHED, data={"status": "succeeded"}, time=T0 + number + 0.5),
        ], 0)  # fmt: skip
        run_ids.append(run_id)
    return run_ids


def test_a_backlog_larger_than_one_page_fires_every_run_once_and_moves_the_watermark_past_it() -> None:
    """Rule: runs finished while no scheduler led are all handled when one starts, not only the
    newest page of them (the older ones were never fired and the watermark never moved)."""
    url = f"memory://watcher-{uuid.uuid4().hex}"
    store = MemoryStore.open(url)
    backlog = add_finished_runs(store, LISTED_PER_ROUND + 200)
    fired: list[str] = []

    async def fire(run_id: str, status: RunStatus) -> None:
        fired.append(run_id)

    async def rounds() -> None:
        watcher = RunFinishedWatcher("down", RunFinishedTrigger(workflow="up"), store, fire, T0 - 1)
        for _ in range(4):
            await watcher.round()
        await watcher.close()

    try:
        asyncio.run(rounds())
        assert sorted(fired) == backlog
        assert float(store.read_record(watermark_record_key("down")) or 0) == T0 + len(backlog) - 1
    finally:
        MemoryStore.forget(url)


def test_a_run_stamped_in_the_future_does_not_move_the_watermark_past_the_runs_created_after_it() -> None:
    """Rule: the watermark never passes the watcher's clock, so a run created by a host whose clock
    ran ahead (a day here) does not hide the runs created, correctly stamped, after it."""
    url = f"memory://watcher-{uuid.uuid4().hex}"
    store = MemoryStore.open(url)
    now = time.time()
    fired: list[str] = []

    async def fire(run_id: str, status: RunStatus) -> None:
        fired.append(run_id)

    def finished_run(run_id: str, created: float) -> None:
        data = {"workflow": "up", "version": "1", "definition_hash": "x", "params": {}}
        store.append_events(run_id, [
            RunEvent(run_id, 1, EventKind.RUN_CREATED, data=data, time=created),
            RunEvent(run_id, 2, EventKind.RUN_FINISHED, data={"status": "succeeded"}, time=created),
        ], 0)  # fmt: skip

    async def rounds() -> None:
        watcher = RunFinishedWatcher("down", RunFinishedTrigger(workflow="up"), store, fire, now - 10)
        finished_run("skewed", now + 86_400)
        await watcher.round()
        finished_run("later", time.time())
        await watcher.round()
        await watcher.close()

    try:
        asyncio.run(rounds())
        assert fired == ["skewed", "later"]
        assert float(store.read_record(watermark_record_key("down")) or 0) <= time.time()
    finally:
        MemoryStore.forget(url)
