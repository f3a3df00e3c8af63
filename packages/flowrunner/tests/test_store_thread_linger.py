"""A store's append thread lingers after a run for the next one, then goes back to the pool.

Given back the moment its last run let go, the thread cost every run of a process that runs
small workflows one after another two hand-offs: waking it to leave, and handing it the next
run's loop (issue 10).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from flowrunner_helpers import TASK_TYPES, plan_of

from flowbuilder.events import RunStatus
from flowbuilder.interfaces import RunRequest
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner, _store_thread

PLAN = """
name: linger
tasks:
  - {name: a, type: python, config: {callable: "flowrunner_sample_callables:noop"}}
"""


class ThreadedStore(MemoryStore):
    """Not exactly MemoryStore, so its appends take the store's thread (recorded by name)."""

    def __init__(self, url: str):
        super().__init__(url)
        self.appenders: set[str] = set()

    def append_events(self, run_id: str, events: Any, expected_seq: int) -> int:
        import threading

        self.appenders.add(threading.current_thread().name)
        return super().append_events(run_id, events, expected_seq)


def test_a_run_right_after_another_on_the_same_store_finds_its_thread_serving_and_the_thread_leaves_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store's thread lingers after a run for the next one (no hand-off to give it back and
    take it again), then goes back to the pool when no run came."""
    monkeypatch.setattr(_store_thread, "LINGER_SECONDS", 1.0)  # however slow the machine, the next run is sooner
    started: list[str] = []
    real_start = _store_thread.start_service

    def counted_start(name: str, loop: Any) -> None:
        started.append(name)
        real_start(name, loop)

    monkeypatch.setattr(_store_thread, "start_service", counted_start)
    store = ThreadedStore(f"memory://linger-{uuid.uuid4().hex}")
    runner = LocalRunner(TASK_TYPES)
    try:
        for _ in range(3):
            assert runner.run(RunRequest(plan=plan_of(PLAN), store=store)).status is RunStatus.SUCCEEDED
    finally:
        runner.close_workers()
    assert started == ["flowrunner-store-ThreadedStore"]  # once, for the first run
    assert len(store.appenders) == 1
    deadline = time.monotonic() + 10
    while id(store) in _store_thread._THREADS and time.monotonic() < deadline:
        time.sleep(0.01)
    assert id(store) not in _store_thread._THREADS  # given back once no run used the store
