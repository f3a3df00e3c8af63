"""A run's first lease goes out with its first batch, on the store's thread, before any event.

A store other than the in-process memory store used to get the first lease from a service
thread of its own, awaited by the run before it began: two thread hand-offs per run for one
small write (issue 10). These tests pin what replaced it: the same thread that appends the
run's events writes the lease first, no other thread is asked for it, and a store that
refuses the lease stores nothing of the run and stops it with its error.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Sequence

import pytest
from flowrunner_helpers import TASK_TYPES, plan_of
from flowrunner_sample_callables import CALLS

from flowbuilder.errors import StoreError
from flowbuilder.events import RunEvent, RunStatus
from flowbuilder.interfaces import RunRequest
from flowbuilder.leases import RunLease
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner, _daemon_threads

PLAN = """
name: lease-first
tasks:
  - {name: a, type: python, config: {callable: "flowrunner_sample_callables:noop"}}
  - {name: b, type: python, depends_on: [a], config: {callable: "flowrunner_sample_callables:noop"}}
"""


class RecordingStore(MemoryStore):
    """Not exactly MemoryStore, so its writes take the store's thread; records who wrote what, in order.

    ``is_owner``: like RocksDB's owning process (its disk is local); False: like Redis or a
    RocksDB directory owned by another process."""

    def __init__(self, url: str, refuse_leases: bool = False, is_owner: bool = True):
        super().__init__(url)
        self.is_owner = is_owner
        self.refuse_leases = refuse_leases
        self.calls: list[tuple[str, str]] = []

    def renew_leases(self, leases: Sequence[RunLease]) -> None:
        self.calls.append(("lease", threading.current_thread().name))
        if self.refuse_leases:
            raise StoreError("the store refuses writes")
        super().renew_leases(leases)

    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int) -> int:
        self.calls.append(("events", threading.current_thread().name))
        return super().append_events(run_id, events, expected_seq)


def test_the_first_lease_is_written_by_the_store_thread_before_the_first_event_and_by_no_other_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = RecordingStore(f"memory://lease-first-{uuid.uuid4().hex}")
    jobs: list[Any] = []
    pool = _daemon_threads.service_threads()
    real_submit = pool.submit

    def counted_submit(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        jobs.append(fn)
        return real_submit(fn, *args, **kwargs)

    monkeypatch.setattr(pool, "submit", counted_submit)
    runner = LocalRunner(TASK_TYPES)
    try:
        result = runner.run(RunRequest(plan=plan_of(PLAN), store=store))
    finally:
        runner.close_workers()
    assert result.status is RunStatus.SUCCEEDED
    assert store.calls[0][0] == "lease"  # before the run's first event
    assert store.calls[0][1] == store.calls[1][1]  # by the thread that appends the run's events
    assert store.calls[1][1].startswith("flowrunner-store-")
    assert [kind for kind, _ in store.calls].count("lease") == 1
    assert jobs == []  # no service thread was asked to write it apart from the run's batches
    lease = store.read_lease(result.run_id)
    assert lease is not None and lease.run_id == result.run_id


def test_a_store_that_refuses_the_first_lease_stores_nothing_of_the_run_and_stops_it() -> None:
    store = RecordingStore(f"memory://lease-refused-{uuid.uuid4().hex}", refuse_leases=True)
    runner = LocalRunner(TASK_TYPES)
    run_id = f"r-{uuid.uuid4().hex}"
    try:
        with pytest.raises(StoreError, match="refuses writes"):
            runner.run(RunRequest(plan=plan_of(PLAN), store=store, run_id=run_id))
    finally:
        runner.close_workers()
    assert [kind for kind, _ in store.calls] == ["lease"]
    assert store.read_events(run_id) == []


def test_a_store_owned_elsewhere_gets_the_first_lease_before_the_run_begins_and_stops_it_if_refused() -> None:
    """Redis, or a RocksDB directory another process owns, may be out of reach: the lease is
    written and awaited before any task runs, so an unreachable store runs nothing."""
    store = RecordingStore(f"memory://lease-remote-{uuid.uuid4().hex}", is_owner=False)
    runner = LocalRunner(TASK_TYPES)
    try:
        result = runner.run(RunRequest(plan=plan_of(PLAN), store=store))
        assert result.status is RunStatus.SUCCEEDED
        assert store.calls[0] == ("lease", store.calls[0][1])
        assert store.calls[0][1].startswith("flowrunner-service-")  # a service thread, awaited
        refusing = RecordingStore(f"memory://lease-remote-refused-{uuid.uuid4().hex}", True, is_owner=False)
        key = f"lease-remote-{uuid.uuid4().hex}"
        counted = PLAN.replace(
            '"flowrunner_sample_callables:noop"}', f'"flowrunner_sample_callables:count_call", args: [{key}]}}'
        )
        with pytest.raises(StoreError, match="refuses writes"):
            runner.run(RunRequest(plan=plan_of(counted), store=refusing))
    finally:
        runner.close_workers()
    assert key not in CALLS  # no task ran
    assert [kind for kind, _ in refusing.calls] == ["lease"]
