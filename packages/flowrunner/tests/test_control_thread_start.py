"""When a run starts its store's control thread (issue 10: a fresh process's first run).

A run on an in-memory store starts the thread only if it still runs after
``IN_MEMORY_START_SECONDS``: its leases are read only in this process, which asks its own
runs rather than the clock. A run on any other store hands it to a
service thread at once, so that its lease is renewed even while an inline task holds the loop. The task below is inline: it runs on the
run's loop in the run's first step, before any timer of the loop can fire, so what it sees
is what the run's start did.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest
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


def test_a_run_on_a_store_of_another_process_serves_its_control_hub_while_an_inline_task_holds_the_loop(
    tmp_path: Path,
) -> None:
    """The control case: the hub the in-memory run defers is handed to a service thread before
    the first task, and serves (renews leases, watches requests) while that task never yields."""
    host = build_plugin_host()
    store = host.open_store(f"rocksdb://{tmp_path / 'db'}")
    known = control_threads()
    text = f"""
name: threads
tasks:
  - {{name: seen, type: python, config: {{callable: "flowrunner_sample_callables:new_control_threads",
      args: [{known}, 5]}}}}
"""
    try:
        result = _run(store, text)
    finally:
        store.close()
    assert result.status is RunStatus.SUCCEEDED
    assert len(result.output("seen")) == 1


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


def test_a_request_made_before_the_hub_serves_is_honoured_once_it_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub's service thread is held back 0.3 s (as a loaded machine may schedule it late);
    a cancel requested meanwhile, once the run is stored, is applied by the hub's first wait."""
    host = build_plugin_host()
    store = host.open_store(f"rocksdb://{tmp_path / 'db'}")
    run_id = f"r-{uuid.uuid4().hex}"
    real_start = _control.start_service
    serving: list[float] = []

    def late_start(name: str, loop: Callable[[], None]) -> None:
        def start() -> None:
            serving.append(time.monotonic())
            real_start(name, loop)

        threading.Timer(0.3, start).start()

    def request_once_stored() -> None:
        while not store.read_events(run_id):
            time.sleep(0.001)
        requested.append(time.monotonic())
        store.request_control(run_id, ControlRequest("cancel", by="the test"))

    requested: list[float] = []
    monkeypatch.setattr(_control, "start_service", late_start)
    requester = threading.Thread(target=request_once_stored, daemon=True)
    requester.start()
    try:
        runner = LocalRunner(TASK_TYPES)
        request = RunRequest(plan=plan_of(SLOW), store=store, run_id=run_id)
        result = asyncio.run(asyncio.wait_for(runner.run_async(request), 10))
    finally:
        requester.join(5)
        store.close()
    assert result.status is RunStatus.CANCELLED
    assert requested and serving and requested[0] < serving[0]


def test_later_runs_on_a_rocksdb_store_start_no_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's append loop, its control hub and the first lease write take idle service
    threads: once a run has grown the pool, a later run starts no thread of its own."""
    host = build_plugin_host()
    store = host.open_store(f"rocksdb://{tmp_path / 'db'}")
    started: list[str] = []
    real_start = threading.Thread.start

    def counted_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    try:
        for _ in range(2):  # grow the pool (an earlier test's loops may still hold its threads)
            assert _run(store, THREADS_SEEN).status is RunStatus.SUCCEEDED
            time.sleep(0.2)  # the append loop ends when its run has left the store
        monkeypatch.setattr(threading.Thread, "start", counted_start)
        assert _run(store, THREADS_SEEN).status is RunStatus.SUCCEEDED
    finally:
        monkeypatch.undo()
        store.close()
    assert started == []
