"""A store written before subscriptions and annotations existed keeps working (issue #9, item 9).

``OlderStore`` implements only the abstract methods of the Store interface — what a
third-party plugin written for the earlier interface has — by delegating to a memory store.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any, Iterator, Sequence

import pytest

from flowbuilder import Annotation, RunUpdate
from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent, RunState, RunStatus
from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary, Store
from flowbuilder.stores.memory import MemoryStore


class OlderStore(Store):
    scheme = "older"

    def __init__(self, inner: MemoryStore):
        self.inner = inner

    @classmethod
    def open(cls, url: str) -> OlderStore:
        return cls(MemoryStore.open(url.replace("older://", "memory://")))

    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int) -> int:
        return self.inner.append_events(run_id, events, expected_seq)

    def read_events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[RunEvent]:
        return self.inner.read_events(run_id, after_seq, limit)

    def last_seq(self, run_id: str) -> int:
        return self.inner.last_seq(run_id)

    def save_snapshot(self, state: RunState) -> None:
        self.inner.save_snapshot(state)

    def load_snapshot(self, run_id: str) -> RunState | None:
        return self.inner.load_snapshot(run_id)

    def get_run(self, run_id: str) -> RunSummary:
        return self.inner.get_run(run_id)

    def list_runs(self, **filters: Any) -> RunPage:  # type: ignore[override]
        return self.inner.list_runs(**filters)

    def delete_run(self, run_id: str) -> None:
        self.inner.delete_run(run_id)

    def save_definition(self, content: bytes) -> str:
        return self.inner.save_definition(content)

    def load_definition(self, digest: str) -> bytes:
        return self.inner.load_definition(digest)

    def append_logs(self, run_id: str, lines: Sequence[LogLine]) -> None:
        self.inner.append_logs(run_id, lines)

    def read_logs(self, run_id: str, task: str | None = None, after: int = 0) -> list[LogLine]:
        return self.inner.read_logs(run_id, task, after)

    def put_blob(self, run_id: str, name: str, data: bytes) -> str:
        return self.inner.put_blob(run_id, name, data)

    def get_blob(self, ref: str) -> bytes:
        return self.inner.get_blob(ref)


@pytest.fixture
def older() -> Iterator[OlderStore]:
    url = f"older://defaults-{uuid.uuid4().hex}"
    yield OlderStore.open(url)
    MemoryStore.forget(url.replace("older://", "memory://"))


def _events(run_id: str) -> list[RunEvent]:
    return [
        RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "w"}),
        RunEvent(run_id, 2, EventKind.RUN_STARTED),
        RunEvent(run_id, 3, EventKind.RUN_FINISHED, data={"status": RunStatus.SUCCEEDED.value}),
    ]


def test_an_older_store_subscribes_through_its_own_wait_for_events(older: OlderStore) -> None:
    events = _events("r1")
    older.append_events("r1", events[:1], 0)

    async def main() -> list[RunUpdate]:
        subscription = older.subscribe("r1")
        writer = threading.Timer(0.05, lambda: older.append_events("r1", events[1:], 1))
        writer.start()
        batches = [update async for update in subscription]
        writer.join()
        return batches

    batches = asyncio.run(asyncio.wait_for(main(), timeout=30))
    assert [e for b in batches for e in b.events] == events and batches[-1].finished


def test_an_older_store_refuses_annotations_in_one_line_and_reads_none(older: OlderStore) -> None:
    older.append_events("r1", _events("r1"), 0)
    with pytest.raises(StoreError, match=r"^the older:// store does not keep annotations") as caught:
        older.annotate("r1", Annotation("note", "x"))
    assert "\n" not in str(caught.value)
    assert older.read_annotations("r1") == []
    assert older.wait_for_updates("r1", 3, 0, 0.01) == ([], [])


def test_an_older_store_refuses_control_requests_in_one_line_and_keeps_no_leases(older: OlderStore) -> None:
    from flowbuilder.control import ControlRequest
    from flowbuilder.leases import RunLease, with_live_status

    older.append_events("r1", _events("r1")[:2], 0)
    with pytest.raises(StoreError, match=r"^the older:// store does not keep control requests") as caught:
        older.request_control("r1", ControlRequest("cancel"))
    assert "\n" not in str(caught.value)
    assert older.read_control_requests("r1") == [] and older.wait_for_control({"r1": 0}, 0.01) == {}
    older.renew_leases([RunLease("r1", "o", "h", 1, 0.0, 1.0)])  # accepted, not kept
    assert older.read_lease("r1") is None
    assert with_live_status(older, older.get_run("r1")).status is RunStatus.RUNNING  # nothing to judge it by
