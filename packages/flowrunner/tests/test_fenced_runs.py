"""Fenced runs (issue 12.3): every append carries the leader's fence; a refused one stops the run at once.

The memory store appends on the loop's thread; a subclass of it goes through the store's
worker thread (as RocksDB and Redis do), so each rule is checked on both paths.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any, Sequence

import pytest

from flowbuilder.config import Settings
from flowbuilder.errors import StaleLeaderError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.fencing import Fence
from flowbuilder.plugins import build_plugin_host
from flowbuilder.run_service import RunService
from flowbuilder.stores.memory import MemoryStore

SCOPE = "scheduler/test"
WORKFLOW = """\
name: fenced
tasks:
  - {name: first, type: shell, config: {command: "echo one"}}
  - {name: second, type: shell, depends_on: [first], config: {command: "echo started; sleep 0.5; echo finished"}}
  - {name: third, type: shell, depends_on: [second], config: {command: "echo three"}}
"""


class ThreadedMemoryStore(MemoryStore):
    """A memory store the runner treats like any other: its appends go through the store's thread."""


class PlainOnlyStore(MemoryStore):
    """Refuses fenced appends: an unfenced run must never make one."""

    def append_fenced_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int, fence: Fence) -> int:
        raise AssertionError("an unfenced run made a fenced append")


def _service(store_class: type[MemoryStore]) -> Iterator[RunService]:
    url = f"memory://fenced-{uuid.uuid4().hex}"
    service = RunService(build_plugin_host(Settings()), store_class(url))
    yield service
    service.close()
    MemoryStore.forget(url)


@pytest.fixture(params=[MemoryStore, ThreadedMemoryStore], ids=["inline", "store-thread"])
def service(request: pytest.FixtureRequest) -> Iterator[RunService]:
    yield from _service(request.param)


def test_a_fenced_run_records_its_fence_and_raises_the_stores_highest_token(service: RunService) -> None:
    prepared = service.prepare(WORKFLOW)
    prepared.fence = Fence(SCOPE, 7)
    assert service.run(prepared).succeeded
    started = [e.data for e in service.store.read_events(prepared.run_id) if e.kind is EventKind.RUN_STARTED]
    assert started == [{"runner": "local", "resumed": False, "fence": {"scope": SCOPE, "token": 7}}]
    assert service.store.load_state(prepared.run_id).fence == {"scope": SCOPE, "token": 7}
    assert service.store.read_fence(SCOPE) == 7


def test_a_run_fenced_out_mid_run_stops_at_once_and_writes_nothing_more(service: RunService) -> None:
    """A newer leader raised the fence while ``second`` ran: its end, and all after, is refused."""
    store = service.store
    prepared = service.prepare(WORKFLOW)
    prepared.fence = Fence(SCOPE, 1)
    raised: dict[str, Any] = {}

    def newer_leader() -> None:
        seq = 0
        while True:
            events = store.wait_for_events(prepared.run_id, seq, 10.0)
            if not events:
                return
            seq = events[-1].seq
            if any(e.kind is EventKind.TASK_STARTED and e.task == "second" for e in events):
                store.raise_fence(Fence(SCOPE, 2))
                raised["seq"] = store.last_seq(prepared.run_id)
                return

    watcher = threading.Thread(target=newer_leader, daemon=True)
    watcher.start()
    with pytest.raises(StaleLeaderError) as refused:
        service.run(prepared)
    watcher.join(timeout=30)
    assert (refused.value.token, refused.value.highest) == (1, 2)
    events = store.read_events(prepared.run_id)
    assert events[-1].seq == raised["seq"], "an event was stored after the fence was raised"
    assert not any(e.kind is EventKind.TASK_SUCCEEDED and e.task == "second" for e in events)
    assert not any(e.kind is EventKind.RUN_FINISHED for e in events)
    assert "finished" not in [line.text for line in store.read_logs(prepared.run_id)]


def test_an_unfenced_run_makes_plain_appends_only() -> None:
    for service in _service(PlainOnlyStore):
        result = service.run(service.prepare(WORKFLOW))
        assert result.succeeded
        assert "fence" not in service.store.read_events(result.run_id)[1].data
        assert service.store.load_state(result.run_id).fence is None


# -- the scheduler: raising the fence, taking over, stopping when deposed -----------------

SCHEDULED = """\
name: nightly
schedule: {every: 1h}
tasks:
  - {name: first, type: shell, config: {command: "echo one"}}
  - {name: second, type: shell, depends_on: [first], config: {command: "echo two"}}
"""


def _interrupted_run(store: MemoryStore, run_id: str, fence: Fence | None) -> None:
    """A run its leader left half done: ``first`` succeeded, ``second`` started; its owner is gone."""
    import time

    from flowbuilder.leases import RunLease

    digest = store.save_definition(SCHEDULED.encode())
    started: dict[str, Any] = {"runner": "local", "resumed": False}
    if fence is not None:
        started["fence"] = fence.as_data()
    events = [
        RunEvent(
            run_id,
            1,
            EventKind.RUN_CREATED,
            data={"workflow": "nightly", "version": None, "definition_hash": digest, "params": {}},
        ),
        RunEvent(run_id, 2, EventKind.RUN_STARTED, data=started),
        RunEvent(run_id, 3, EventKind.TASK_STARTED, task="first", attempt=1),
        RunEvent(run_id, 4, EventKind.TASK_SUCCEEDED, task="first", attempt=1, data={"output": "one\n"}),
        RunEvent(run_id, 5, EventKind.TASK_STARTED, task="second", attempt=1),
    ]
    store.append_events(run_id, events, 0)
    now = time.time()
    store.renew_leases([RunLease(run_id, "dead-leader", "elsewhere", 1, now - 60, now - 30)])


def _scheduler(service: RunService, tmp_path: Any) -> Any:
    from flowbuilder.consensus import NoOpConsensus
    from flowbuilder.scheduler import Scheduler, load_scheduled_workflows

    path = tmp_path / "nightly.yaml"
    path.write_text(SCHEDULED, encoding="utf-8")
    workflows = load_scheduled_workflows(service.host, [path])
    return Scheduler(service, workflows, NoOpConsensus("node-b"), log=lambda line: None)


def test_a_new_leader_takes_over_the_interrupted_runs_of_its_scope_only(tmp_path: Any) -> None:
    import asyncio

    for service in _service(MemoryStore):
        store = service.store
        _interrupted_run(store, "fenced", Fence("scheduler/noop", 1))
        _interrupted_run(store, "by-hand", None)  # `flowbuilder run` that died: not a leader's to continue
        outcomes = asyncio.run(_scheduler(service, tmp_path).run(once=True))
        assert [(o.run_id, o.started, o.status) for o in outcomes] == [("fenced", True, "succeeded")]
        history = store.read_events("fenced")
        succeeded = [e.task for e in history if e.kind is EventKind.TASK_SUCCEEDED]
        assert succeeded == ["first", "second"]  # the recorded success is kept, not run again
        fences = [e.data.get("fence") for e in history if e.kind is EventKind.RUN_STARTED]
        assert fences[0] == {"scope": "scheduler/noop", "token": 1} and fences[1]["token"] > 1
        assert store.read_fence("scheduler/noop") == fences[1]["token"]
        assert store.last_seq("by-hand") == 5


def test_a_scheduler_whose_store_holds_a_newer_fence_stops_before_it_starts_anything(tmp_path: Any) -> None:
    import asyncio

    from flowbuilder.fencing import MAX_FENCE_TOKEN

    for service in _service(MemoryStore):
        service.store.raise_fence(Fence("scheduler/noop", MAX_FENCE_TOKEN))
        _interrupted_run(service.store, "fenced", Fence("scheduler/noop", 1))
        with pytest.raises(StaleLeaderError):
            asyncio.run(_scheduler(service, tmp_path).run(once=True))
        assert service.store.last_seq("fenced") == 5


def test_the_children_of_a_fenced_run_carry_its_fence(tmp_path: Any) -> None:
    """A deposed leader's child runs must be refused too; the takeover leaves them to their parent."""
    (tmp_path / "child.yaml").write_text(
        "name: child\ntasks:\n  - {name: leaf, type: shell, config: {command: 'true'}}\n"
    )
    parent = tmp_path / "parent.yaml"
    parent.write_text("name: parent\ntasks:\n  - {name: sub, type: workflow, config: {path: child.yaml}}\n")
    for service in _service(MemoryStore):
        prepared = service.prepare(parent)
        prepared.fence = Fence(SCOPE, 3)
        assert service.run(prepared).succeeded
        state = service.store.load_state(prepared.run_id)
        child_id = state.children["sub"]["run_id"]
        child = service.store.load_state(child_id)
        assert child.fence == {"scope": SCOPE, "token": 3} and child.parent is not None


def test_a_deposed_leader_claims_no_key_so_the_current_leader_can_start_that_run() -> None:
    for service in _service(MemoryStore):
        service.store.raise_fence(Fence(SCOPE, 5))
        stale = service.prepare(WORKFLOW, idempotency_key="schedule:fenced:t1")
        stale.fence = Fence(SCOPE, 4)
        with pytest.raises(StaleLeaderError):
            service.run(stale)
        assert service.store.read_record("schedule:fenced:t1") is None and service.store.read_events(stale.run_id) == []
        current = service.prepare(WORKFLOW, idempotency_key="schedule:fenced:t1")
        current.fence = Fence(SCOPE, 5)
        assert service.run(current).succeeded
