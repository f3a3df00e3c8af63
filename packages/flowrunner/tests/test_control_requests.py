"""The owner honours control requests recorded in its store, and keeps its runs' leases."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from flowrunner_helpers import TASK_TYPES, plan_of

from flowbuilder.control import ControlRequest
from flowbuilder.events import EventKind, RunStatus, TaskStatus
from flowbuilder.interfaces import RunRequest, RunResult
from flowbuilder.leases import lease_is_live
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner

SLOW_CHAIN = """
name: slow
tasks:
  - {name: first, type: python, config: {callable: "asyncio:sleep", args: [0.3]}}
  - {name: second, type: python, depends_on: [first], config: {callable: "operator:add", args: [1, 2]}}
"""
LONG = """
name: long
tasks:
  - {name: wait, type: python, config: {callable: "asyncio:sleep", args: [30]}}
"""


def _store() -> MemoryStore:
    return MemoryStore.open(f"memory://control-{uuid.uuid4().hex}")


def _events_of(store: MemoryStore, run_id: str, kind: EventKind) -> list[Any]:
    return [event for event in store.read_events(run_id) if event.kind is kind]


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _run_in_thread(store: MemoryStore, text: str, run_id: str) -> tuple[threading.Thread, list[RunResult]]:
    results: list[RunResult] = []
    runner = LocalRunner(TASK_TYPES)
    request = RunRequest(plan=plan_of(text), run_id=run_id, store=store)
    thread = threading.Thread(target=lambda: results.append(asyncio.run(runner.run_async(request))))
    thread.start()
    return thread, results


def test_a_cancel_request_from_another_thread_stops_the_run_and_history_names_who_asked() -> None:
    store = _store()
    thread, results = _run_in_thread(store, LONG, "r-cancel")
    _wait_for(lambda: _events_of(store, "r-cancel", EventKind.TASK_STARTED))
    asked = time.monotonic()
    store.request_control("r-cancel", ControlRequest("cancel", by="ops@host:1", reason="wrong params"))
    thread.join(timeout=10)
    took = time.monotonic() - asked
    print(f"cancel honoured in {took * 1000:.1f} ms (memory://, same process)")
    assert not thread.is_alive() and results[0].status is RunStatus.CANCELLED
    [recorded] = _events_of(store, "r-cancel", EventKind.RUN_CANCEL_REQUESTED)
    assert recorded.data["by"] == "ops@host:1" and recorded.data["request"] == 1
    assert "ops@host:1" in recorded.data["reason"] and "wrong params" in recorded.data["reason"]
    assert store.load_state("r-cancel").control_seen == 1


def test_pause_stops_new_starts_and_unpause_resumes_dispatch() -> None:
    store = _store()
    thread, results = _run_in_thread(store, SLOW_CHAIN, "r-pause")
    _wait_for(lambda: _events_of(store, "r-pause", EventKind.TASK_STARTED))
    store.request_control("r-pause", ControlRequest("pause", by="ops"))
    _wait_for(lambda: _events_of(store, "r-pause", EventKind.RUN_PAUSED))
    _wait_for(lambda: store.load_state("r-pause").tasks["first"].status is TaskStatus.SUCCEEDED)
    time.sleep(0.3)  # the running attempt finished; a paused run starts nothing more
    state = store.load_state("r-pause")
    assert state.paused and "second" not in state.tasks
    store.request_control("r-pause", ControlRequest("unpause", by="ops"))
    thread.join(timeout=10)
    assert results[0].status is RunStatus.SUCCEEDED
    kinds = [e.kind for e in store.read_events("r-pause")]
    assert kinds.index(EventKind.RUN_UNPAUSED) < kinds.index(EventKind.TASK_STARTED, kinds.index(EventKind.RUN_PAUSED))
    assert not store.load_state("r-pause").paused


def test_a_signal_is_recorded_in_the_run_history_with_its_payload() -> None:
    store = _store()
    thread, results = _run_in_thread(store, SLOW_CHAIN, "r-signal")
    _wait_for(lambda: _events_of(store, "r-signal", EventKind.TASK_STARTED))
    store.request_control("r-signal", ControlRequest("signal", "approve", {"ticket": 7}, by="bot"))
    thread.join(timeout=10)
    assert results[0].status is RunStatus.SUCCEEDED
    [signalled] = _events_of(store, "r-signal", EventKind.RUN_SIGNALLED)
    assert (signalled.data["name"], signalled.data["payload"], signalled.data["by"]) == (
        "approve",
        {"ticket": 7},
        "bot",
    )


def test_the_owner_holds_a_live_lease_while_the_run_runs() -> None:
    store = _store()
    thread, _ = _run_in_thread(store, LONG, "r-lease")
    _wait_for(lambda: _events_of(store, "r-lease", EventKind.TASK_STARTED))
    lease = store.read_lease("r-lease")
    assert lease is not None and lease_is_live(lease)
    store.request_control("r-lease", ControlRequest("cancel"))
    thread.join(timeout=10)


def test_nothing_is_recorded_after_run_finished() -> None:
    store = _store()
    thread, _ = _run_in_thread(store, SLOW_CHAIN, "r-late")
    thread.join(timeout=10)
    store.request_control("r-late", ControlRequest("signal", "late"))
    time.sleep(0.3)
    assert store.read_events("r-late")[-1].kind is EventKind.RUN_FINISHED
