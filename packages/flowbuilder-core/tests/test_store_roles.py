"""The Store is made of role interfaces; a consumer can rely on one role alone."""

from __future__ import annotations

import asyncio
from typing import Sequence

import pytest

from flowbuilder.events import EventKind, RunEvent, RunState
from flowbuilder.interfaces import (
    AnnotationStore,
    BlobStore,
    ControlChannel,
    DefinitionStore,
    EventLog,
    LogStore,
    RunIndex,
    Store,
)
from flowbuilder.stores.memory import MemoryStore
from flowbuilder.subscriptions import RunUpdate


class EventLogOnly(EventLog):
    """An event log with no run index (a remote feed, say): only the EventLog role."""

    def __init__(self) -> None:
        self.backing = MemoryStore.open(f"memory://roles-{id(self)}")

    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int) -> int:
        return self.backing.append_events(run_id, events, expected_seq)

    def read_events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[RunEvent]:
        return self.backing.read_events(run_id, after_seq, limit)

    def last_seq(self, run_id: str) -> int:
        return self.backing.last_seq(run_id)

    def save_snapshot(self, state: RunState) -> None:
        self.backing.save_snapshot(state)

    def load_snapshot(self, run_id: str) -> RunState | None:
        return self.backing.load_snapshot(run_id)


def finished_run(run_id: str) -> list[RunEvent]:
    return [
        RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "wf"}),
        RunEvent(run_id, 2, EventKind.RUN_STARTED),
        RunEvent(run_id, 3, EventKind.RUN_FINISHED, data={"status": "succeeded"}),
    ]


async def collect(log: EventLog, run_id: str, after_seq: int = 0) -> list[RunUpdate]:
    return [update async for update in log.subscribe(run_id, after_seq)]


def test_store_inherits_every_role_so_old_subclasses_are_instances_of_each() -> None:
    for role in (EventLog, AnnotationStore, RunIndex, DefinitionStore, LogStore, BlobStore, ControlChannel):
        assert issubclass(Store, role) and isinstance(MemoryStore.open("memory://"), role)


def test_the_names_that_lived_in_the_store_module_still_import_from_it() -> None:
    from flowbuilder.interfaces import logs, run_index
    from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary, definition_hash

    assert (LogLine, RunSummary, RunPage) == (logs.LogLine, run_index.RunSummary, run_index.RunPage)
    assert definition_hash(b"x") == __import__("hashlib").sha256(b"x").hexdigest()


def test_an_event_log_without_a_run_index_can_be_followed_to_the_end() -> None:
    log = EventLogOnly()
    log.append_events("r1", finished_run("r1")[:2], 0)

    async def follow_then_finish() -> list[RunUpdate]:
        following = asyncio.ensure_future(collect(log, "r1"))
        await asyncio.sleep(0.05)
        log.append_events("r1", finished_run("r1")[2:], 2)
        return await asyncio.wait_for(following, timeout=10)

    updates = asyncio.run(follow_then_finish())
    assert [event.seq for update in updates for event in update.events] == [1, 2, 3]
    assert updates[-1].finished


def test_following_a_finished_run_from_its_end_ends_at_once_without_a_run_index() -> None:
    log = EventLogOnly()
    log.append_events("r1", finished_run("r1"), 0)
    assert asyncio.run(asyncio.wait_for(collect(log, "r1", after_seq=3), timeout=10)) == []


def test_an_event_log_without_annotations_refuses_to_annotate_with_one_line() -> None:
    from flowbuilder.annotations import Annotation
    from flowbuilder.errors import StoreError

    class Legacy(EventLogOnly):
        scheme = "legacy"

    with pytest.raises(StoreError, match=r"^the legacy:// store does not keep annotations"):
        Legacy().annotate("r1", Annotation("note", {}))


def test_a_summary_folds_run_events_wherever_they_sit_in_a_batch() -> None:
    """``RunSummary.apply`` passes over task-only batches quickly; the run-level events in
    a mixed batch are still folded, and ``last_seq`` always ends at the batch's last event."""
    from flowbuilder.events import RunStatus
    from flowbuilder.interfaces.run_index import RunSummary

    summary = RunSummary("r")
    created = RunEvent("r", 1, EventKind.RUN_CREATED, data={"workflow": "w", "version": "2"}, time=5.0)
    started = RunEvent("r", 2, EventKind.RUN_STARTED, time=6.0)
    tasks = [RunEvent("r", seq, EventKind.TASK_STARTED, "t", 1, {"type": "python"}, 7.0) for seq in range(3, 6)]
    summary.apply([created, started, *tasks])
    assert (summary.workflow, summary.version, summary.created_at, summary.status, summary.last_seq) == (
        "w", "2", 5.0, RunStatus.RUNNING, 5)  # fmt: skip
    more = [RunEvent("r", seq, EventKind.TASK_SUCCEEDED, "t", 1, {}, 8.0) for seq in range(6, 9)]
    summary.apply(more)
    assert summary.status is RunStatus.RUNNING and summary.last_seq == 8
    finished = RunEvent("r", 10, EventKind.RUN_FINISHED, data={"status": "succeeded"}, time=9.5)
    summary.apply([RunEvent("r", 9, EventKind.TASK_SKIPPED, "u", 0, {}, 9.0), finished])
    assert (summary.status, summary.finished_at, summary.last_seq) == (RunStatus.SUCCEEDED, 9.5, 10)
    summary.apply([])
    assert summary.last_seq == 10
