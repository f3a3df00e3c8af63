"""When a run starts its store's control thread (issue 10: a fresh process's first run).

A run on an in-memory store starts the thread only if it still runs after
``IN_MEMORY_START_SECONDS``: its leases are read only in this process, which asks its own
runs rather than the clock. A run on any other store starts it at once, so that its lease is
renewed even while an inline task holds the loop. The task below is inline: it runs on the
run's loop in the run's first step, before any timer of the loop can fire, so what it sees
is what the run's start did.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from flowrunner_helpers import TASK_TYPES, plan_of
from flowrunner_sample_callables import control_threads

from flowbuilder.control import ControlRequest
from flowbuilder.events import RunStatus
from flowbuilder.interfaces import RunRequest, RunResult, Store
from flowbuilder.plugins import build_plugin_host
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner, _control

THREADS_SEEN = """
name: threads
tasks:
  - {name: seen, type: python, config: {callable: "flowrunner_sample_callables:control_threads"}}
"""
SLOW = """
name: slow
tasks:
  - {name: wait, type: python, config: {callable: "asyncio:sleep", args: [30]}}
"""


def _run(store: Store, text: str) -> RunResult:
    runner = LocalRunner(TASK_TYPES)
    return asyncio.run(runner.run_async(RunRequest(plan=plan_of(text), store=store)))


def _started_control_threads(store: Store) -> set[int]:
    """The control threads the run of THREADS_SEEN found alive that were not alive before it
    (an earlier test's run may have left its own thread running a while)."""
    before = set(control_threads())
    result = _run(store, THREADS_SEEN)
    assert result.status is RunStatus.SUCCEEDED
    return set(result.output("seen")) - before


def _memory() -> MemoryStore:
    return MemoryStore.open(f"memory://control-thread-{uuid.uuid4().hex}")


def test_a_short_run_on_an_in_memory_store_starts_no_control_thread_and_leaves_no_hub() -> None:
    stores = [_memory() for _ in range(3)]
    for store in stores:
        assert _started_control_threads(store) == set()
    assert not any(id(store) in _control._HUBS for store in stores)


def test_a_run_on_a_store_of_another_process_starts_its_control_thread_at_once(tmp_path: Path) -> None:
    """The control case: the thread the in-memory run skips is started before the first task."""
    host = build_plugin_host()
    store = host.open_store(f"rocksdb://{tmp_path / 'db'}")
    try:
        started = _started_control_threads(store)
    finally:
        store.close()
    assert len(started) == 1


def test_a_longer_in_memory_run_starts_the_thread_and_honours_a_cancel_request() -> None:
    store = _memory()
    run_id = f"r-{uuid.uuid4().hex}"

    async def main() -> RunResult:
        runner = LocalRunner(TASK_TYPES)
        running = asyncio.ensure_future(runner.run_async(RunRequest(plan=plan_of(SLOW), store=store, run_id=run_id)))
        await asyncio.sleep(_control.IN_MEMORY_START_SECONDS * 4)
        store.request_control(run_id, ControlRequest("cancel", by="the test"))
        return await asyncio.wait_for(running, 10)

    result = asyncio.run(main())
    assert result.status is RunStatus.CANCELLED
