"""Store appends run off the event loop: a store that hangs stalls its own run's writes only.

The stores here are MemoryStores whose ``append_events`` waits on a gate the test opens,
standing in for a store that is reconnecting (tests/test_store_outage.py does the same with
a real redis-server stopped by SIGSTOP). Every test checks ordering, not time: what must
happen while the gate is still closed, with a watchdog that opens it after a while so a
regression fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any, Sequence

import pytest
from flowrunner_helpers import TASK_TYPES, plan_of, processes_with_env
from flowrunner_sample_callables import CALLS

from flowbuilder.events import EventKind, RunEvent, RunStatus
from flowbuilder.interfaces import EventSink, RunRequest
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner

WATCHDOG_SECONDS = 20.0


class GatedStore(MemoryStore):
    """Appends of events wait while the gate is closed (the first ``free_appends`` never do)."""

    def __init__(self, url: str, free_appends: int = 0):
        super().__init__(url)
        self.gate = threading.Event()
        self.free_appends = free_appends
        self.appends = 0

    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int) -> int:
        self.appends += 1
        if self.appends > self.free_appends:
            self.gate.wait()
        return super().append_events(run_id, events, expected_seq)


class StoredFirstSink(EventSink):
    """Records events, and whether each was already in the store when it arrived."""

    def __init__(self, store: MemoryStore):
        self.store = store
        self.events: list[RunEvent] = []
        self.unstored_on_arrival = 0

    def handle(self, events: Sequence[RunEvent]) -> None:
        last = self.store.last_seq(events[0].run_id)
        self.unstored_on_arrival += sum(1 for event in events if event.seq > last)
        self.events.extend(events)

    def close(self) -> None:
        pass


def _watchdog(gate: threading.Event) -> threading.Timer:
    timer = threading.Timer(WATCHDOG_SECONDS, gate.set)
    timer.daemon = True
    timer.start()
    return timer


def _assert_stored_once(store: MemoryStore, run_id: str) -> list[RunEvent]:
    events = list(store.read_events(run_id))
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert events[-1].kind is EventKind.RUN_FINISHED
    return events


def test_a_hanging_store_stalls_its_run_but_not_timers_cancels_or_other_runs(tmp_path) -> None:
    gated = GatedStore(f"memory://{uuid.uuid4().hex}", free_appends=1)
    other = MemoryStore(f"memory://{uuid.uuid4().hex}")
    sink = StoredFirstSink(gated)
    token = f"FLOWRUNNER_TEST_{uuid.uuid4().hex}"
    marker = tmp_path / "failed-once"
    retried = tmp_path / "retried"
    held = plan_of(f"""
name: held
tasks:
  - name: flaky
    type: shell
    retry: {{attempts: 2, backoff: 0.05, jitter: 0}}
    config: {{command: "test -f {marker} || {{ touch {marker}; exit 1; }}; touch {retried}"}}
  - {{name: waits, type: shell, env: {{TOKEN: "{token}"}}, config: {{command: "sleep 60", kill_grace: 0.2}}}}
""")
    quick = plan_of("""
name: quick
tasks:
  - {name: a, type: shell, config: {command: "true"}}
  - {name: b, type: shell, depends_on: [a], config: {command: "true"}}
""")
    runner = LocalRunner(TASK_TYPES)
    seen: dict[str, Any] = {}

    async def main() -> None:
        cancel = asyncio.Event()
        run = asyncio.create_task(runner.run_async(RunRequest(plan=held, store=gated, sinks=[sink]), cancel))
        while not retried.exists():  # the retry timer fires after the failed attempt's append is held
            await asyncio.sleep(0.01)
        seen["retried_while_held"] = gated.appends > 1 and not gated.gate.is_set()
        other_result = await runner.run_async(RunRequest(plan=quick, store=other))
        seen["other"] = (other_result.status, not gated.gate.is_set())
        while not processes_with_env(token):
            await asyncio.sleep(0.01)
        cancel.set()
        while processes_with_env(token):  # the cancel kills the attempt's process group
            await asyncio.sleep(0.01)
        seen["cancelled_while_held"] = not gated.gate.is_set()
        seen["run_waits_for_store"] = not run.done()
        gated.gate.set()
        seen["result"] = await run

    watchdog = _watchdog(gated.gate)
    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        watchdog.cancel()
        runner.close_workers()
    assert seen["retried_while_held"], "the retry timer fired while the store was held"
    assert seen["other"] == (RunStatus.SUCCEEDED, True), "the other run finished while the store was held"
    assert seen["cancelled_while_held"], "the cancel was taken while the store was held"
    assert seen["run_waits_for_store"]
    assert seen["result"].status is RunStatus.CANCELLED
    assert seen["result"].tasks["flaky"].status.value == "succeeded"
    events = _assert_stored_once(gated, seen["result"].run_id)
    assert [event.seq for event in sink.events] == [event.seq for event in events]
    assert sink.unstored_on_arrival == 0
    assert any(event.kind is EventKind.RUN_CANCEL_REQUESTED for event in events)


def test_a_slow_store_bounds_what_a_run_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-pressure: past MAX_UNSTORED the run starts nothing new until the store catches up."""
    from flowrunner import _store_thread
    from flowrunner.scheduling import state

    monkeypatch.setattr(_store_thread, "MAX_UNSTORED", 40)
    monkeypatch.setattr(state, "FLUSH_EVERY", 10)
    gated = GatedStore(f"memory://{uuid.uuid4().hex}", free_appends=1)
    key = uuid.uuid4().hex
    tasks = "\n".join(
        f'  - {{name: t{i}, type: python, config: {{callable: "flowrunner_sample_callables:count_call", '
        f'args: ["{key}"]}}}}'
        for i in range(300)
    )
    plan = plan_of(f"name: many\ntasks:\n{tasks}\n")
    runner = LocalRunner(TASK_TYPES, concurrency=1000)
    seen: dict[str, Any] = {}

    async def main() -> None:
        run = asyncio.create_task(runner.run_async(RunRequest(plan=plan, store=gated)))
        for _ in range(50):  # let the run go as far as it will while the store is held
            await asyncio.sleep(0.005)
        seen["ran_while_held"] = CALLS.get(key, 0)
        gated.gate.set()
        seen["result"] = await run

    watchdog = _watchdog(gated.gate)
    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        watchdog.cancel()
        runner.close_workers()
    # Two events per task: the run stops starting tasks once 40 events wait for the store
    # (plus at most one flush of 10 and the batch the store holds).
    assert 0 < seen["ran_while_held"] < 60
    assert seen["result"].succeeded and CALLS[key] == 300
    events = _assert_stored_once(gated, seen["result"].run_id)
    assert sum(1 for event in events if event.kind is EventKind.TASK_SUCCEEDED) == 300


def test_a_store_failing_while_the_run_waits_on_a_timer_stops_the_run_with_its_error() -> None:
    """The store's thread wakes the run: its error surfaces now, not after a 60 s retry delay."""
    from flowbuilder.errors import StoreError

    class FailingStore(MemoryStore):
        def append_logs(self, run_id, lines):  # type: ignore[no-untyped-def]
            raise StoreError("cannot reach Redis at 127.0.0.1:1 (refused) after 3 tries over 1s")

    plan = plan_of("""
name: p
tasks:
  - {name: noisy, type: shell, retry: {attempts: 2, backoff: 60, jitter: 0}, config: {command: "echo hi; exit 1"}}
""")
    runner = LocalRunner(TASK_TYPES)

    async def main() -> None:
        run = asyncio.create_task(
            runner.run_async(RunRequest(plan=plan, store=FailingStore(f"memory://{uuid.uuid4().hex}")))
        )
        done, _ = await asyncio.wait({run}, timeout=30)  # half the retry delay the run would otherwise sleep
        if not done:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
            pytest.fail("the store's error did not stop the run while it waited on its retry timer")
        await run

    try:
        with pytest.raises(StoreError, match="cannot reach Redis"):
            asyncio.run(main())
    finally:
        runner.close_workers()


def test_the_first_lease_is_written_off_the_loop_without_asyncio_s_default_executor() -> None:
    """A store that is not the in-process memory store gets its first lease on flowrunner's
    daemon threads: asyncio's default executor would start a thread in each run's fresh loop
    (and one more to shut it down when the loop closes)."""
    store = SubclassedStore(f"memory://lease-{uuid.uuid4().hex}")
    plan = plan_of("""
name: lease
tasks:
  - {name: a, type: python, config: {callable: "flowrunner_sample_callables:noop"}}
""")
    runner = LocalRunner(TASK_TYPES)

    async def run_and_look() -> tuple[Any, list[str]]:
        result = await runner.run_async(RunRequest(plan=plan, store=store))
        return result, [thread.name for thread in threading.enumerate() if thread.name.startswith("asyncio_")]

    try:
        result, executor_threads = asyncio.run(run_and_look())
    finally:
        runner.close_workers()
    assert result.status is RunStatus.SUCCEEDED
    assert store.read_lease(result.run_id) is not None  # written, by the thread
    assert executor_threads == []


class SubclassedStore(MemoryStore):
    """Not exactly MemoryStore: its writes take the store's thread and its first lease goes off the loop."""
