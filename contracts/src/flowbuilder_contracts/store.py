"""The Store contract: what every :class:`flowbuilder.interfaces.Store` must do.

Use it by subclassing :class:`StoreContract` in your own tests and giving it two fixtures::

    import pytest
    from flowbuilder_contracts import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore.open(f"mystore://{tmp_path}/db")
            yield store
            store.close()

        @pytest.fixture
        def reopen_store(self, tmp_path):
            def reopen(old):
                old.close()
                return MyStore.open(f"mystore://{tmp_path}/db")
            return reopen

``store`` is a fresh, empty, open store. ``reopen_store`` is a callable taking that open
store (or a store it returned earlier): it closes it and returns a new instance opened on
the same location — the durability tests write, reopen, and read back. (``memory://``
reopens by URL within the process.) Stores returned by ``reopen_store`` are closed by the
contract. Every test here is inherited; add your own beside them (multi-process races,
backend failures) and extend one only by calling ``super()``.

The tests follow the guarantees in the docstring of :class:`flowbuilder.interfaces.Store`.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from flowbuilder.annotations import MAX_ANNOTATION_BYTES, Annotation
from flowbuilder.audit import MAX_AUDIT_DETAIL, MAX_AUDIT_FIELD, AuditRecord
from flowbuilder.caching import CachedResult
from flowbuilder.control import MAX_CONTROL_BYTES, ControlRequest
from flowbuilder.errors import RunNotFoundError, SequenceConflictError, StaleLeaderError, StoreError
from flowbuilder.events import EventKind, RunEvent, RunStatus, TaskStatus, fold_events
from flowbuilder.fencing import MAX_FENCE_TOKEN, Fence
from flowbuilder.interfaces.store import LogLine, Store, definition_hash
from flowbuilder.leases import RunLease
from flowbuilder_contracts._audit import Contract, audit_implementation

STORE_CONTRACT_VERSION = 9
"""2 added annotations and live subscriptions; 3 the stated rules: which append error wins,
empty batches, blob references (JSON-safe, replaced by name, per run), thread safety, roles;
4 the control role (control requests and owner leases); 5 the result cache role (cached
task results by workflow, task and key, with an expiry); 6 the coordination role (claimed
keys, records and named leases: what schedules need); 7 fencing (fenced appends, the
highest token per scope, lease epochs: what HA schedulers need); 8 the audit log (append-only,
numbered, newest-first pages, masked and bounded records, retention, durability); 9 a
subscriber blocked in wait_for_updates is woken by a log-only append (live log streams)."""


def run_events(
    run_id: str,
    *,
    workflow: str = "wf",
    created_at: float = 1_000.0,
    status: RunStatus | None = RunStatus.SUCCEEDED,
    output: Any = "done",
) -> list[RunEvent]:
    """A complete small run: created, started, one task that succeeds, finished with ``status``.

    Pass ``status=None`` for a run still running (no ``run_finished``).
    """
    events = [
        RunEvent(
            run_id,
            1,
            EventKind.RUN_CREATED,
            data={"workflow": workflow, "version": "1", "params": {"n": 1}, "definition_hash": "d" * 64},
            time=created_at,
        ),
        RunEvent(
            run_id, 2, EventKind.RUN_STARTED, data={"runner": "contract", "resumed": False}, time=created_at + 0.1
        ),
        RunEvent(run_id, 3, EventKind.TASK_STARTED, task="only", attempt=1, time=created_at + 0.2),
        RunEvent(
            run_id,
            4,
            EventKind.TASK_SUCCEEDED,
            task="only",
            attempt=1,
            data={"output": output, "duration": 0.1},
            time=created_at + 0.3,
        ),
    ]
    if status is not None:
        events.append(RunEvent(run_id, 5, EventKind.RUN_FINISHED, data={"status": status.value}, time=created_at + 0.4))
    return events


def _wait_while(store: Store, run_id: str, after_seq: int, write: Callable[[], object]) -> Any:
    """``wait_for_updates`` (30 s) on a thread, ``write`` once it is parked; its answer, or None
    when it was not woken within 10 s (a store that is not woken sits out its 30 s timeout)."""
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(store.wait_for_updates(run_id, after_seq, 0, 30.0)))
    waiter.start()
    time.sleep(0.2)  # let it park in its wait first (it passes either way when woken)
    write()
    waiter.join(timeout=10)
    return None if waiter.is_alive() else got[0]


def _add_run(store: Store, run_id: str, **options: Any) -> list[RunEvent]:
    events = run_events(run_id, **options)
    store.append_events(run_id, events, 0)
    return events


ReopenStore = Callable[[Store], Store]


def _audit(index: int, **fields: Any) -> AuditRecord:
    """An audit record of a cancel call; ``detail`` says which (``call INDEX``) unless given."""
    values: dict[str, Any] = {"actor": "ci", "action": "POST /api/v1/runs/{run_id}/cancel", "outcome": "200",
                              "detail": f"call {index}"}  # fmt: skip
    values.update(fields)
    return AuditRecord(**values)


def _digest(text: str) -> str:
    """A cache key as the runner makes them (a hex SHA-256 digest)."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _cached(workflow: str, task: str, key_text: str, **fields: Any) -> CachedResult:
    """A cache entry at (workflow, task, digest of ``key_text``)."""
    return CachedResult(workflow, task, _digest(key_text), **{"run_id": "r0", "stored_at": 1000.0, **fields})


def _collect(store: Store, run_id: str, after_seq: int = 0, after_annotation: int = 0,
             during: Callable[[], None] | None = None) -> list[Any]:  # fmt: skip
    """Subscribe while ``during`` writes from another thread; return every batch until the end."""

    async def main() -> list[Any]:
        subscription = store.subscribe(run_id, after_seq, after_annotation)
        writer = threading.Thread(target=during) if during is not None else None
        if writer is not None:
            writer.start()
        batches = [update async for update in subscription]
        if writer is not None:
            writer.join(timeout=30)
        return batches

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def _race_to_append(store: Store, run_id: str, writers: tuple[str, ...]) -> list[str]:
    """Let each writer append event 2 at the same moment; ``won:<writer>`` or ``conflict`` each."""
    barrier = threading.Barrier(len(writers))
    outcomes: list[str] = []

    def append(writer: str) -> None:
        event = RunEvent(run_id, 2, EventKind.TASK_STARTED, task=writer, attempt=1)
        barrier.wait()
        try:
            store.append_events(run_id, [event], 1)
            outcomes.append(f"won:{writer}")
        except SequenceConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=append, args=(writer,)) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


class StoreContract(Contract):
    """Abstract tests for a Store; subclass it and provide ``store`` and ``reopen_store``."""

    __contract__ = True

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError("a StoreContract subclass must define a `store` fixture")

    @pytest.fixture
    def reopen_store(self) -> ReopenStore:
        raise NotImplementedError("a StoreContract subclass must define a `reopen_store` fixture")

    @pytest.fixture
    def reopened(self, reopen_store: ReopenStore) -> Any:
        """``reopen_store`` that also closes what it returned when the test ends."""
        opened: list[Store] = []

        def reopen(old: Store) -> Store:
            new = reopen_store(old)
            opened.append(new)
            return new

        yield reopen
        for store in opened:
            store.close()

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    # -- appending ------------------------------------------------------------------------

    def test_append_to_a_new_run_returns_the_new_last_seq(self, store: Store) -> None:
        assert store.append_events("r1", run_events("r1"), 0) == 5
        assert store.last_seq("r1") == 5

    def test_append_continues_a_run_from_its_last_seq(self, store: Store) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)
        assert store.append_events("r1", events[2:], 2) == 5
        assert [e.seq for e in store.read_events("r1")] == [1, 2, 3, 4, 5]

    def test_append_with_a_stale_expected_seq_conflicts_and_writes_nothing(self, store: Store) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)
        with pytest.raises(SequenceConflictError) as caught:
            store.append_events("r1", [RunEvent("r1", 1, EventKind.TASK_STARTED, task="x", attempt=1)], 0)
        assert caught.value.expected_seq == 0 and caught.value.actual_seq == 2
        assert store.last_seq("r1") == 2
        assert [e.kind for e in store.read_events("r1")] == [EventKind.RUN_CREATED, EventKind.RUN_STARTED]

    def test_append_with_an_expected_seq_ahead_of_the_run_conflicts(self, store: Store) -> None:
        with pytest.raises(SequenceConflictError):
            store.append_events("r1", [RunEvent("r1", 4, EventKind.RUN_CREATED)], 3)
        assert store.last_seq("r1") == 0

    def test_append_rejects_a_batch_numbered_wrongly_and_writes_none_of_it(self, store: Store) -> None:
        events = run_events("r1")
        gap = [events[0], events[2]]  # seq 1 then 3
        with pytest.raises(StoreError):
            store.append_events("r1", gap, 0)
        assert store.last_seq("r1") == 0
        assert store.read_events("r1") == []

    def test_append_rejects_a_batch_not_starting_after_expected_seq(self, store: Store) -> None:
        events = run_events("r1")
        with pytest.raises(StoreError):
            store.append_events("r1", events[1:], 0)  # starts at 2
        assert store.last_seq("r1") == 0

    def test_append_rejects_events_of_another_run(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.append_events("r1", run_events("other"), 0)
        assert store.last_seq("r1") == 0 and store.last_seq("other") == 0

    def test_when_expected_seq_and_numbering_are_both_wrong_the_conflict_wins(self, store: Store) -> None:
        """expected_seq is checked first: a stale writer learns it is stale, not that it numbered badly."""
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)
        badly_numbered = [RunEvent("r1", 7, EventKind.TASK_STARTED, task="x", attempt=1)]
        with pytest.raises(SequenceConflictError) as caught:
            store.append_events("r1", badly_numbered, 1)
        assert (caught.value.expected_seq, caught.value.actual_seq) == (1, 2)
        assert store.last_seq("r1") == 2

    def test_a_wrongly_numbered_batch_at_the_right_expected_seq_is_not_a_conflict(self, store: Store) -> None:
        """Retrying a badly numbered batch cannot help, so it is a plain StoreError, never a conflict."""
        store.append_events("r1", run_events("r1")[:2], 0)
        with pytest.raises(StoreError) as caught:
            store.append_events("r1", [RunEvent("r1", 7, EventKind.TASK_STARTED, task="x", attempt=1)], 2)
        assert not isinstance(caught.value, SequenceConflictError)
        assert store.last_seq("r1") == 2

    def test_an_empty_batch_writes_nothing_and_still_checks_expected_seq(self, store: Store) -> None:
        store.append_events("r1", run_events("r1")[:2], 0)
        assert store.append_events("r1", [], 2) == 2
        with pytest.raises(SequenceConflictError):
            store.append_events("r1", [], 1)
        assert store.last_seq("r1") == 2

    def test_two_threads_appending_the_same_seq_exactly_one_wins(self, store: Store) -> None:
        for round_number in range(20):
            run_id = f"race-{round_number}"
            store.append_events(run_id, run_events(run_id)[:1], 0)
            outcomes = _race_to_append(store, run_id, writers=("a", "b"))
            winners = [o for o in outcomes if o.startswith("won:")]
            assert len(winners) == 1 and outcomes.count("conflict") == 1, outcomes
            stored = store.read_events(run_id)
            assert [e.seq for e in stored] == [1, 2]
            assert stored[1].task == winners[0].removeprefix("won:")

    # -- reading --------------------------------------------------------------------------

    def test_events_round_trip_every_field(self, store: Store) -> None:
        event = RunEvent(
            "r1",
            1,
            EventKind.TASK_FAILED,
            task="t",
            attempt=3,
            data={"error": "boom", "exit_code": 2, "nested": {"a": [1, 2.5, None, True]}},
            time=1_234.5,
        )
        store.append_events("r1", [event], 0)
        (read,) = store.read_events("r1")
        assert read == event

    def test_read_events_after_a_seq_returns_the_rest_in_order(self, store: Store) -> None:
        events = _add_run(store, "r1")
        assert store.read_events("r1", after_seq=2) == events[2:]
        assert store.read_events("r1", after_seq=5) == []

    def test_read_events_with_a_limit_returns_at_most_that_many(self, store: Store) -> None:
        events = _add_run(store, "r1")
        assert store.read_events("r1", after_seq=1, limit=2) == events[1:3]
        assert store.read_events("r1", after_seq=4, limit=10) == events[4:]

    def test_read_events_of_an_unknown_run_is_empty(self, store: Store) -> None:
        assert store.read_events("nope") == []
        assert store.last_seq("nope") == 0

    def test_wait_for_events_returns_events_appended_meanwhile(self, store: Store) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)
        writer = threading.Timer(0.05, lambda: store.append_events("r1", events[2:], 2))
        writer.start()
        try:
            got = store.wait_for_events("r1", 2, timeout=10.0)
        finally:
            writer.join()
        assert got and got[0] == events[2]
        assert all(e.seq > 2 for e in got)

    def test_wait_for_events_returns_at_once_when_events_exist(self, store: Store) -> None:
        events = _add_run(store, "r1")
        assert store.wait_for_events("r1", 3, timeout=10.0) == events[3:]

    def test_wait_for_events_times_out_empty(self, store: Store) -> None:
        _add_run(store, "r1")
        assert store.wait_for_events("r1", 5, timeout=0.05) == []

    # -- summaries and listings ---------------------------------------------------------

    def test_get_run_reflects_created_started_and_finished(self, store: Store) -> None:
        events = run_events("r1", workflow="pipeline", created_at=500.0, status=None)
        store.append_events("r1", events[:1], 0)
        summary = store.get_run("r1")
        assert (summary.run_id, summary.workflow, summary.version) == ("r1", "pipeline", "1")
        assert summary.status is RunStatus.PENDING and summary.created_at == 500.0
        assert summary.definition_hash == "d" * 64 and summary.last_seq == 1
        store.append_events("r1", events[1:], 1)
        assert store.get_run("r1").status is RunStatus.RUNNING
        store.append_events("r1", [RunEvent("r1", 5, EventKind.RUN_FINISHED, data={"status": "failed"}, time=600.0)], 4)
        summary = store.get_run("r1")
        assert summary.status is RunStatus.FAILED and summary.finished_at == 600.0 and summary.last_seq == 5

    def test_get_run_of_an_unknown_run_raises_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFoundError):
            store.get_run("nope")

    def test_list_runs_is_newest_first(self, store: Store) -> None:
        for index, created in enumerate([300.0, 100.0, 200.0]):
            _add_run(store, f"r{index}", created_at=created)
        assert [s.run_id for s in store.list_runs().runs] == ["r0", "r2", "r1"]

    def test_list_runs_orders_equal_times_by_run_id_descending(self, store: Store) -> None:
        for run_id in ("a", "c", "b"):
            _add_run(store, run_id, created_at=100.0)
        assert [s.run_id for s in store.list_runs().runs] == ["c", "b", "a"]

    def test_list_runs_filters_by_workflow(self, store: Store) -> None:
        _add_run(store, "r1", workflow="etl", created_at=1.0)
        _add_run(store, "r2", workflow="report", created_at=2.0)
        _add_run(store, "r3", workflow="etl", created_at=3.0)
        assert [s.run_id for s in store.list_runs(workflow="etl").runs] == ["r3", "r1"]

    def test_list_runs_filters_by_status(self, store: Store) -> None:
        _add_run(store, "ok", created_at=1.0, status=RunStatus.SUCCEEDED)
        _add_run(store, "bad", created_at=2.0, status=RunStatus.FAILED)
        _add_run(store, "busy", created_at=3.0, status=None)
        assert [s.run_id for s in store.list_runs(status=RunStatus.FAILED).runs] == ["bad"]
        assert [s.run_id for s in store.list_runs(status=RunStatus.RUNNING).runs] == ["busy"]

    def test_list_runs_filters_by_time_since_inclusive_until_exclusive(self, store: Store) -> None:
        for created in (10.0, 20.0, 30.0, 40.0):
            _add_run(store, f"t{int(created)}", created_at=created)
        page = store.list_runs(since=20.0, until=40.0)
        assert [s.run_id for s in page.runs] == ["t30", "t20"]

    def test_list_runs_pages_with_cursors_until_the_last_page(self, store: Store) -> None:
        for index in range(5):
            _add_run(store, f"r{index}", created_at=100.0 + index)
        first = store.list_runs(limit=2)
        assert [s.run_id for s in first.runs] == ["r4", "r3"] and first.next_cursor
        second = store.list_runs(limit=2, cursor=first.next_cursor)
        assert [s.run_id for s in second.runs] == ["r2", "r1"] and second.next_cursor
        third = store.list_runs(limit=2, cursor=second.next_cursor)
        assert [s.run_id for s in third.runs] == ["r0"] and third.next_cursor is None

    def test_list_runs_pages_stay_stable_while_new_runs_are_appended(self, store: Store) -> None:
        for index in range(6):
            _add_run(store, f"r{index}", created_at=100.0 + index)
        first = store.list_runs(limit=2)
        _add_run(store, "new1", created_at=500.0)
        second = store.list_runs(limit=2, cursor=first.next_cursor)
        _add_run(store, "new2", created_at=600.0)
        third = store.list_runs(limit=2, cursor=second.next_cursor)
        seen = [s.run_id for page in (first, second, third) for s in page.runs]
        assert seen == ["r5", "r4", "r3", "r2", "r1", "r0"]
        assert third.next_cursor is None

    def test_list_runs_filters_apply_across_pages(self, store: Store) -> None:
        for index in range(6):
            _add_run(store, f"r{index}", workflow="even" if index % 2 == 0 else "odd", created_at=10.0 + index)
        first = store.list_runs(workflow="even", limit=2)
        second = store.list_runs(workflow="even", limit=2, cursor=first.next_cursor)
        assert [s.run_id for s in first.runs + second.runs] == ["r4", "r2", "r0"]

    def test_list_runs_with_an_invalid_cursor_raises_store_error(self, store: Store) -> None:
        _add_run(store, "r1")
        with pytest.raises(StoreError):
            store.list_runs(cursor="not a cursor!")

    def test_list_runs_with_a_limit_below_one_raises_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.list_runs(limit=0)

    def test_list_runs_of_an_empty_store_is_an_empty_last_page(self, store: Store) -> None:
        page = store.list_runs()
        assert page.runs == [] and page.next_cursor is None

    # -- snapshots and state --------------------------------------------------------------

    def test_load_snapshot_of_an_unknown_run_is_none(self, store: Store) -> None:
        assert store.load_snapshot("nope") is None

    def test_a_saved_snapshot_loads_back_equal(self, store: Store) -> None:
        events = _add_run(store, "r1")
        state = fold_events("r1", events[:4])
        store.save_snapshot(state)
        loaded = store.load_snapshot("r1")
        assert loaded is not None and loaded.to_dict() == state.to_dict()

    def test_the_newest_snapshot_wins(self, store: Store) -> None:
        events = _add_run(store, "r1")
        store.save_snapshot(fold_events("r1", events[:2]))
        store.save_snapshot(fold_events("r1", events[:4]))
        loaded = store.load_snapshot("r1")
        assert loaded is not None and loaded.seq == 4

    def test_load_state_folds_the_snapshot_and_later_events(self, store: Store) -> None:
        events = _add_run(store, "r1", output={"rows": 3})
        store.save_snapshot(fold_events("r1", events[:3]))
        state = store.load_state("r1")
        assert state.to_dict() == fold_events("r1", events).to_dict()
        assert state.tasks["only"].status is TaskStatus.SUCCEEDED and state.tasks["only"].output == {"rows": 3}

    def test_load_state_without_a_snapshot_folds_every_event(self, store: Store) -> None:
        events = _add_run(store, "r1")
        assert store.load_state("r1").to_dict() == fold_events("r1", events).to_dict()

    def test_load_state_of_an_unknown_run_raises_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFoundError):
            store.load_state("nope")

    # -- definitions ----------------------------------------------------------------------

    def test_definitions_are_kept_by_content_hash(self, store: Store) -> None:
        content = b"name: wf\ntasks:\n  - {name: a, type: shell}\n"
        digest = store.save_definition(content)
        assert digest == definition_hash(content)
        assert store.load_definition(digest) == content
        assert store.save_definition(content) == digest

    def test_loading_an_unknown_definition_raises_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.load_definition("0" * 64)

    # -- logs -----------------------------------------------------------------------------

    def test_logs_come_back_in_append_order(self, store: Store) -> None:
        lines = [LogLine("a", 1, "stdout", f"line {i}", time=float(i)) for i in range(5)]
        store.append_logs("r1", lines[:2])
        store.append_logs("r1", lines[2:])
        assert store.read_logs("r1") == lines

    def test_logs_filter_by_task_and_skip_after(self, store: Store) -> None:
        lines = [
            LogLine("a" if i % 2 == 0 else "b", 1, "stderr" if i == 3 else "stdout", f"l{i}", time=float(i))
            for i in range(6)
        ]
        store.append_logs("r1", lines)
        assert [line.text for line in store.read_logs("r1", task="b")] == ["l1", "l3", "l5"]
        assert [line.text for line in store.read_logs("r1", task="b", after=1)] == ["l3", "l5"]
        assert [line.text for line in store.read_logs("r1", after=4)] == ["l4", "l5"]
        assert store.read_logs("r1", task="b")[1].stream == "stderr"

    def test_logs_of_an_unknown_run_are_empty(self, store: Store) -> None:
        assert store.read_logs("nope") == []

    # -- blobs ----------------------------------------------------------------------------

    @pytest.mark.parametrize("size", [0, 1, 256, 1024 * 1024], ids=["empty", "one-byte", "256", "1MiB"])
    def test_blobs_round_trip_byte_for_byte(self, store: Store, size: int) -> None:
        data = bytes((i * 7 + i // 256) % 256 for i in range(size))
        ref = store.put_blob("r1", f"blob-{size}", data)
        assert store.get_blob(ref) == data

    def test_a_blob_reference_is_text_that_survives_an_event_and_leads_back_to_the_bytes(self, store: Store) -> None:
        """References are opaque but JSON-safe: the runner puts them into events (flowbuilder.tables)."""
        from flowbuilder.tables import decode_table_reference, table_reference_output

        ref = store.put_blob("r1", "load.arrow", b"ARROW1 table bytes")
        assert isinstance(ref, str) and ref
        _add_run(store, "r1", output=table_reference_output(ref, 3, "polars"))
        recorded = store.read_events("r1")[3].data["output"]
        reference = decode_table_reference(recorded)
        assert reference is not None and reference.blob == ref and reference.rows == 3
        assert store.get_blob(reference.blob) == b"ARROW1 table bytes"

    def test_putting_the_same_name_again_in_a_run_replaces_the_bytes(self, store: Store) -> None:
        """A retried or resumed task writes its table under the same name; the newest bytes win."""
        store.put_blob("r1", "out.arrow", b"first attempt")
        ref = store.put_blob("r1", "out.arrow", b"second attempt")
        assert store.get_blob(ref) == b"second attempt"

    def test_blobs_of_different_runs_with_the_same_name_are_separate(self, store: Store) -> None:
        first = store.put_blob("r1", "out.arrow", b"one")
        second = store.put_blob("r2", "out.arrow", b"two")
        assert (store.get_blob(first), store.get_blob(second)) == (b"one", b"two")

    def test_several_threads_using_one_store_at_once_all_land(self, store: Store) -> None:
        """Thread safety: one open store serves concurrent appends, logs, blobs and reads."""
        errors: list[BaseException] = []

        def work(index: int) -> None:
            run_id = f"thread-{index}"
            try:
                for event in run_events(run_id):
                    store.append_events(run_id, [event], event.seq - 1)
                    store.read_events(run_id)
                store.append_logs(run_id, [LogLine("only", 1, "stdout", str(index))])
                ref = store.put_blob(run_id, "out", str(index).encode())
                assert store.get_blob(ref) == str(index).encode()
            except BaseException as error:  # reported below; a thread's exception is otherwise lost
                errors.append(error)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        for index in range(8):
            run_id = f"thread-{index}"
            assert [e.seq for e in store.read_events(run_id)] == [1, 2, 3, 4, 5]
            assert store.get_run(run_id).status is RunStatus.SUCCEEDED
            assert [line.text for line in store.read_logs(run_id)] == [str(index)]

    def test_the_store_plays_every_role_a_consumer_may_type_against(self, store: Store) -> None:
        from flowbuilder.interfaces import (
            AnnotationStore,
            AuditLog,
            BlobStore,
            DefinitionStore,
            EventLog,
            LogStore,
            RunIndex,
        )

        for role in (EventLog, AnnotationStore, RunIndex, DefinitionStore, LogStore, BlobStore, AuditLog):
            assert isinstance(store, role), role.__name__

    def test_getting_an_unknown_blob_raises_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.get_blob("r1/never-written")

    # -- deletion -------------------------------------------------------------------------

    def test_delete_run_removes_events_summary_snapshot_logs_and_blobs(self, store: Store) -> None:
        events = _add_run(store, "gone")
        store.save_snapshot(fold_events("gone", events))
        store.append_logs("gone", [LogLine("only", 1, "stdout", "x")])
        ref = store.put_blob("gone", "out", b"bytes")
        store.delete_run("gone")
        assert store.read_events("gone") == [] and store.last_seq("gone") == 0
        assert store.load_snapshot("gone") is None and store.read_logs("gone") == []
        with pytest.raises(RunNotFoundError):
            store.get_run("gone")
        with pytest.raises(StoreError):
            store.get_blob(ref)
        assert [s.run_id for s in store.list_runs().runs] == []

    def test_delete_run_leaves_other_runs_alone(self, store: Store) -> None:
        _add_run(store, "gone", created_at=1.0)
        kept = _add_run(store, "kept", created_at=2.0)
        store.append_logs("kept", [LogLine("only", 1, "stdout", "stay")])
        ref = store.put_blob("kept", "out", b"keep me")
        store.delete_run("gone")
        assert store.read_events("kept") == kept
        assert store.read_logs("kept")[0].text == "stay" and store.get_blob(ref) == b"keep me"

    def test_compact_after_deleting_keeps_every_other_run_and_may_repeat(self, store: Store) -> None:
        _add_run(store, "gone", created_at=1.0)
        kept = _add_run(store, "kept", created_at=2.0)
        ref = store.put_blob("kept", "out", b"keep me")
        store.delete_run("gone")
        store.compact()
        store.compact()
        assert store.read_events("kept") == kept and store.get_blob(ref) == b"keep me"
        assert [s.run_id for s in store.list_runs().runs] == ["kept"]

    def test_deleting_an_unknown_run_is_not_an_error(self, store: Store) -> None:
        store.delete_run("nope")

    def test_a_deleted_run_id_can_be_used_again_from_seq_zero(self, store: Store) -> None:
        _add_run(store, "r1")
        store.delete_run("r1")
        assert store.append_events("r1", run_events("r1", workflow="second"), 0) == 5
        assert store.get_run("r1").workflow == "second"

    # -- encoding -------------------------------------------------------------------------

    def test_unicode_survives_in_outputs_params_and_logs(self, store: Store) -> None:
        text = "naïve café — 日本語 ✓ 🚀 \u0000 end"
        _add_run(store, "r1", workflow="ünïcode", output={"text": text, "ключ": [text]})
        store.append_logs("r1", [LogLine("only", 1, "stdout", text)])
        assert store.read_events("r1")[3].data["output"] == {"text": text, "ключ": [text]}
        assert store.get_run("r1").workflow == "ünïcode"
        assert store.read_logs("r1")[0].text == text

    def test_values_are_never_unpickled(self, store: Store) -> None:
        looks_like_pickle = pickle.dumps({"evil": 1}, protocol=0).decode("latin-1")
        _add_run(store, "r1", output=looks_like_pickle)
        store.append_logs("r1", [LogLine("only", 1, "stdout", looks_like_pickle)])
        output = store.read_events("r1")[3].data["output"]
        assert isinstance(output, str) and output == looks_like_pickle
        assert store.read_logs("r1")[0].text == looks_like_pickle
        state = store.load_state("r1")
        assert state.tasks["only"].output == looks_like_pickle

    # -- annotations ----------------------------------------------------------------------

    def test_annotations_are_numbered_in_arrival_order_and_read_back_whole(self, store: Store) -> None:
        _add_run(store, "r1", status=None)
        first = store.annotate("r1", Annotation("note", {"text": "ok", "n": [1, "二"]}, author="ops", time=5.0))
        second = store.annotate("r1", Annotation("anomaly", 0.97, task="only", attempt=1, author="ai", time=6.0))
        assert (first.number, second.number) == (1, 2)
        assert store.read_annotations("r1") == [first, second]
        assert second == Annotation("anomaly", 0.97, task="only", attempt=1, author="ai", time=6.0, number=2)
        assert store.read_annotations("r1", after=1) == [second]

    def test_annotating_never_moves_the_event_sequence_so_the_runner_never_conflicts(self, store: Store) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:3], 0)
        for n in range(5):
            store.annotate("r1", Annotation("note", n))
        assert store.last_seq("r1") == 3
        assert store.append_events("r1", events[3:], 3) == 5
        assert store.read_events("r1") == events

    def test_a_finished_run_can_be_annotated(self, store: Store) -> None:
        _add_run(store, "r1")
        assert store.annotate("r1", Annotation("audit", "reviewed")).number == 1
        assert store.get_run("r1").status is RunStatus.SUCCEEDED

    def test_annotating_an_unknown_run_raises_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFoundError):
            store.annotate("nope", Annotation("note", "x"))
        assert store.read_annotations("nope") == []

    def test_an_oversized_annotation_is_refused_and_nothing_is_kept(self, store: Store) -> None:
        _add_run(store, "r1")
        with pytest.raises(StoreError, match="bytes"):
            store.annotate("r1", Annotation("note", "x" * MAX_ANNOTATION_BYTES))
        assert store.read_annotations("r1") == []

    @pytest.mark.parametrize("payload", [b"\x00\xff", float("nan"), object()], ids=["bytes", "nan", "object"])
    def test_an_annotation_that_is_not_json_is_refused(self, store: Store, payload: Any) -> None:
        _add_run(store, "r1")
        with pytest.raises(StoreError, match="JSON"):
            store.annotate("r1", Annotation("note", payload))
        assert store.read_annotations("r1") == []

    @pytest.mark.parametrize("kind", ["", "has space", "1starts-with-digit", "k" * 65])
    def test_an_annotation_with_an_invalid_kind_is_refused(self, store: Store, kind: str) -> None:
        _add_run(store, "r1")
        with pytest.raises(StoreError, match="kind"):
            store.annotate("r1", Annotation(kind, None))

    def test_two_threads_annotating_at_once_both_land_with_distinct_numbers(self, store: Store) -> None:
        _add_run(store, "r1", status=None)
        barrier = threading.Barrier(4)
        numbers: list[int] = []

        def write(name: str) -> None:
            barrier.wait()
            for n in range(10):
                numbers.append(store.annotate("r1", Annotation("note", n, author=name)).number)

        threads = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(numbers) == list(range(1, 41))
        assert [a.number for a in store.read_annotations("r1")] == list(range(1, 41))

    def test_delete_run_removes_its_annotations(self, store: Store) -> None:
        _add_run(store, "r1")
        store.annotate("r1", Annotation("note", "x"))
        store.delete_run("r1")
        assert store.read_annotations("r1") == []

    def test_annotations_survive_reopening(self, store: Store, reopened: ReopenStore) -> None:
        _add_run(store, "r1")
        kept = store.annotate("r1", Annotation("note", {"k": "ü"}, task="only", attempt=1, author="me", time=7.0))
        assert reopened(store).read_annotations("r1") == [kept]

    # -- subscriptions --------------------------------------------------------------------

    def test_wait_for_updates_returns_an_annotation_added_meanwhile(self, store: Store) -> None:
        _add_run(store, "r1", status=None)
        got = _wait_while(store, "r1", 4, lambda: store.annotate("r1", Annotation("note", "wake")))
        assert got is not None, "wait_for_updates was not woken by a new annotation"
        events, notes = got
        assert events == [] and [n.payload for n in notes] in (["wake"], [])

    def test_wait_for_updates_returns_an_event_appended_meanwhile(self, store: Store) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)
        got = _wait_while(store, "r1", 2, lambda: store.append_events("r1", events[2:3], 2))
        assert got is not None, "wait_for_updates was not woken by a new event"
        assert got == ([events[2]], [])

    def test_wait_for_updates_is_woken_by_a_log_only_append(self, store: Store) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)
        got = _wait_while(store, "r1", 2, lambda: store.append_logs("r1", [LogLine("a", 1, "stdout", "wake")]))
        assert got is not None, "wait_for_updates was not woken by a log-only append"
        assert got == ([], [])
        assert [line.text for line in store.read_logs("r1")] == ["wake"]

    def test_subscribe_delivers_every_event_appended_after_it_in_order_and_ends_with_the_run(
        self, store: Store
    ) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)

        def writer() -> None:
            for event in events[2:]:
                store.append_events("r1", [event], event.seq - 1)

        batches = _collect(store, "r1", 0, during=writer)
        delivered = [e for batch in batches for e in batch.events]
        assert delivered == events
        assert batches[-1].finished and not any(batch.finished for batch in batches[:-1])

    def test_subscribe_delivers_annotations_beside_the_events(self, store: Store) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)

        def writer() -> None:
            store.annotate("r1", Annotation("anomaly", {"score": 0.9}, task="only", attempt=1))
            store.append_events("r1", events[2:], 2)

        batches = _collect(store, "r1", 2, during=writer)
        assert [e.seq for batch in batches for e in batch.events] == [3, 4, 5]
        assert [(a.number, a.kind) for batch in batches for a in batch.annotations] == [(1, "anomaly")]

    def test_subscribe_starts_after_the_given_seq(self, store: Store) -> None:
        events = _add_run(store, "r1")
        batches = _collect(store, "r1", 3)
        assert [e for batch in batches for e in batch.events] == events[3:]

    def test_subscribe_to_a_run_finished_before_ends_with_its_late_annotations(self, store: Store) -> None:
        _add_run(store, "r1")
        store.annotate("r1", Annotation("note", "late"))
        batches = _collect(store, "r1", 5)
        assert [(b.events, [a.payload for a in b.annotations]) for b in batches] == [([], ["late"])]
        assert _collect(store, "r1", 5, 1) == []

    def test_subscribe_waits_for_a_run_that_is_created_later(self, store: Store) -> None:
        events = run_events("later")

        async def main() -> list[Any]:
            subscription = store.subscribe("later")
            first = asyncio.ensure_future(subscription.__anext__())
            await asyncio.sleep(0.05)
            await asyncio.to_thread(store.append_events, "later", events, 0)
            batches = [await first]
            batches.extend([update async for update in subscription])
            return batches

        batches = asyncio.run(asyncio.wait_for(main(), timeout=30))
        assert [e for batch in batches for e in batch.events] == events

    # -- control requests and leases ------------------------------------------------------

    def test_control_requests_are_numbered_in_arrival_order_and_read_back_whole(self, store: Store) -> None:
        _add_run(store, "r1", status=None)
        first = store.request_control("r1", ControlRequest("pause", by="ops@a:1", reason="deploy", time=5.0))
        second = store.request_control("r1", ControlRequest("signal", "approve", {"ok": [1, "二"]}, by="bot", time=6.0))
        assert (first.number, second.number) == (1, 2)
        assert store.read_control_requests("r1") == [first, second]
        assert store.read_control_requests("r1", after=1) == [second]
        assert (second.action, second.name, second.payload, second.by, second.time) == (
            "signal", "approve", {"ok": [1, "二"]}, "bot", 6.0)  # fmt: skip
        assert first.reason == "deploy"

    def test_control_requests_never_move_the_event_sequence_so_the_runner_never_conflicts(self, store: Store) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:3], 0)
        for action in ("pause", "unpause", "cancel"):
            store.request_control("r1", ControlRequest(action))
        assert store.last_seq("r1") == 3
        assert store.append_events("r1", events[3:], 3) == 5
        assert store.read_annotations("r1") == []

    def test_a_control_request_for_an_unknown_run_raises_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFoundError):
            store.request_control("nope", ControlRequest("cancel"))
        assert store.read_control_requests("nope") == []

    @pytest.mark.parametrize("request_", [ControlRequest("explode"), ControlRequest("signal", "9bad"),
                                          ControlRequest("signal", "big", "x" * MAX_CONTROL_BYTES),
                                          ControlRequest("signal", "obj", object()),
                                          ControlRequest("cancel", payload=1)],
                             ids=["action", "name", "too-large", "not-json", "payload-on-cancel"])  # fmt: skip
    def test_an_invalid_control_request_is_refused_and_nothing_is_kept(self, store: Store,
                                                                       request_: ControlRequest) -> None:  # fmt: skip
        _add_run(store, "r1", status=None)
        with pytest.raises(StoreError):
            store.request_control("r1", request_)
        assert store.read_control_requests("r1") == []

    def test_two_threads_requesting_at_once_both_land_with_distinct_numbers(self, store: Store) -> None:
        _add_run(store, "r1", status=None)
        numbers: list[int] = []
        barrier = threading.Barrier(2)

        def request(name: str) -> None:
            barrier.wait()
            for n in range(20):
                numbers.append(store.request_control("r1", ControlRequest("signal", name, n)).number)

        threads = [threading.Thread(target=request, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(numbers) == list(range(1, 41))
        assert [r.number for r in store.read_control_requests("r1")] == list(range(1, 41))

    def test_wait_for_control_returns_a_request_recorded_meanwhile(self, store: Store) -> None:
        _add_run(store, "r1", status=None)
        _add_run(store, "r2", status=None)
        got: list[Any] = []
        waiter = threading.Thread(target=lambda: got.append(store.wait_for_control({"r1": 0, "r2": 0}, 30.0)))
        waiter.start()
        time.sleep(0.2)  # let it park in its wait first (it passes either way when woken)
        store.request_control("r2", ControlRequest("cancel", by="other"))
        waiter.join(timeout=10)  # a store that is not woken by requests sits out its 30 s timeout
        assert not waiter.is_alive(), "wait_for_control was not woken by a new control request"
        assert {run: [(r.number, r.action) for r in found] for run, found in got[0].items()} == {"r2": [(1, "cancel")]}

    def test_wait_for_control_returns_only_requests_after_the_given_numbers(self, store: Store) -> None:
        _add_run(store, "r1", status=None)
        _add_run(store, "r2", status=None)
        store.request_control("r1", ControlRequest("pause"))
        store.request_control("r1", ControlRequest("unpause"))
        store.request_control("r2", ControlRequest("pause"))
        found = store.wait_for_control({"r1": 1, "r2": 1}, 0.1)
        assert {run: [r.action for r in got] for run, got in found.items()} == {"r1": ["unpause"]}
        assert store.wait_for_control({"r1": 2}, 0.05) == {}

    def test_a_lease_is_replaced_by_each_renewal_and_read_back(self, store: Store) -> None:
        _add_run(store, "r1", status=None)
        _add_run(store, "r2", status=None)
        assert store.read_lease("r1") is None
        first = RunLease("r1", "owner-a", "host-a", 11, 100.0, 110.0)
        store.renew_leases([first, RunLease("r2", "owner-a", "host-a", 11, 100.0, 110.0)])
        assert store.read_lease("r1") == first
        later = RunLease("r1", "owner-a", "host-a", 11, 102.0, 112.0)
        store.renew_leases([later])
        assert store.read_lease("r1") == later
        assert store.read_lease("r2") is not None and store.read_lease("nope") is None

    def test_delete_run_removes_its_control_requests_and_lease(self, store: Store) -> None:
        _add_run(store, "r1", status=None)
        store.request_control("r1", ControlRequest("cancel"))
        store.renew_leases([RunLease("r1", "o", "h", 1, 1.0, 2.0)])
        store.delete_run("r1")
        assert store.read_control_requests("r1") == [] and store.read_lease("r1") is None

    def test_control_requests_and_leases_survive_reopening(self, store: Store, reopened: ReopenStore) -> None:
        _add_run(store, "r1", status=None)
        kept = store.request_control("r1", ControlRequest("signal", "go", {"k": "ü"}, by="me", reason="r", time=7.0))
        lease = RunLease("r1", "o", "h", 1, 1.0, 2.0)
        store.renew_leases([lease])
        again = reopened(store)
        assert again.read_control_requests("r1") == [kept] and again.read_lease("r1") == lease

    # -- cached results -------------------------------------------------------------------

    def test_a_cached_result_is_read_back_whole_by_its_address(self, store: Store) -> None:
        table = {"$blob": "r1/t.arrow", "format": "arrow-ipc", "rows": 3, "library": "polars", "v": 1}
        entry = _cached("wf", "load", "a", output={"rows": [1, "二", None], "table": table}, outputs={"n": 3},
                        expires_at=time.time() + 3600)  # fmt: skip
        store.put_cached_result(entry)
        assert store.get_cached_result("wf", "load", _digest("a")) == entry
        assert store.get_cached_result("wf", "load", _digest("b")) is None
        assert store.get_cached_result("wf", "other", _digest("a")) is None
        assert store.get_cached_result("other", "load", _digest("a")) is None

    def test_putting_a_cached_result_again_replaces_it(self, store: Store) -> None:
        store.put_cached_result(_cached("wf", "t", "a", output=1, run_id="r1"))
        newer = _cached("wf", "t", "a", output=2, run_id="r2")
        store.put_cached_result(newer)
        assert store.get_cached_result("wf", "t", _digest("a")) == newer
        assert store.list_cached_results() == [newer]

    def test_an_expired_cached_result_is_never_returned(self, store: Store) -> None:
        store.put_cached_result(_cached("wf", "old", "a", expires_at=time.time() - 1))
        assert store.get_cached_result("wf", "old", _digest("a")) is None
        assert store.list_cached_results("wf") == []

    def test_a_cached_result_expires_when_its_time_is_up(self, store: Store) -> None:
        store.put_cached_result(_cached("wf", "t", "a", expires_at=time.time() + 0.5))
        assert store.get_cached_result("wf", "t", _digest("a")) is not None
        time.sleep(0.7)
        assert store.get_cached_result("wf", "t", _digest("a")) is None
        assert store.list_cached_results() == []

    def test_cached_results_are_listed_by_workflow_and_task_in_order(self, store: Store) -> None:
        for workflow, task, text in (("w2", "b", "1"), ("w1", "b", "2"), ("w1", "a", "3"), ("w1", "b", "4")):
            store.put_cached_result(_cached(workflow, task, text))
        listed = [(e.workflow, e.task, e.key) for e in store.list_cached_results()]
        assert listed == sorted(listed) and len(listed) == 4
        assert {(e.workflow, e.task) for e in store.list_cached_results("w1")} == {("w1", "a"), ("w1", "b")}
        assert [e.key for e in store.list_cached_results("w1", "b")] == sorted([_digest("2"), _digest("4")])
        assert [e.workflow for e in store.list_cached_results(None, "b")] == ["w1", "w1", "w2"]

    def test_clearing_cached_results_removes_what_was_chosen_and_what_expired(self, store: Store) -> None:
        for workflow, task, text in (("w1", "a", "1"), ("w1", "a", "2"), ("w1", "b", "3"), ("w2", "a", "4")):
            store.put_cached_result(_cached(workflow, task, text))
        store.put_cached_result(_cached("w3", "x", "5", expires_at=time.time() - 1))
        assert store.clear_cached_results("w1", "a") == 2
        assert [(e.workflow, e.task) for e in store.list_cached_results()] == [("w1", "b"), ("w2", "a")]
        assert store.clear_cached_results("w9") == 0
        assert store.clear_cached_results(None, "a") == 1
        assert store.clear_cached_results() == 1
        assert store.list_cached_results() == [] and store.clear_cached_results() == 0

    @pytest.mark.parametrize("bad", [
        {"key": "not a digest"}, {"key": "A" * 64}, {"workflow": "has space"}, {"task": ""},
        {"output": object()}, {"output": float("nan")}, {"expires_at": float("inf")},
    ])  # fmt: skip
    def test_an_invalid_cached_result_is_refused_and_nothing_is_kept(self, store: Store, bad: dict[str, Any]) -> None:
        entry = _cached("wf", "t", "a")
        fields = {**entry.to_dict(), "outputs": {}, **bad}
        with pytest.raises(StoreError):
            store.put_cached_result(CachedResult(**fields))
        assert store.list_cached_results() == []

    def test_cached_results_are_no_part_of_any_run(self, store: Store) -> None:
        _add_run(store, "r1")
        entry = _cached("wf", "only", "a", run_id="r1")
        store.put_cached_result(entry)
        assert store.last_seq("r1") == 5
        store.delete_run("r1")
        assert store.get_cached_result("wf", "only", _digest("a")) == entry

    def test_cached_results_survive_reopening(self, store: Store, reopened: ReopenStore) -> None:
        entry = _cached("wf", "t", "a", output={"k": "ü"}, expires_at=time.time() + 3600)
        store.put_cached_result(entry)
        again = reopened(store)
        assert again.get_cached_result("wf", "t", _digest("a")) == entry

    # -- coordination: claimed keys, records, named leases (contract version 6) ----------

    def test_the_first_claim_of_a_key_wins_and_every_claim_returns_its_value(self, store: Store) -> None:
        assert store.read_record("schedule:wf:2026-01-01T02:00:00Z") is None
        assert store.claim_key("schedule:wf:2026-01-01T02:00:00Z", "run-a") == "run-a"
        assert store.claim_key("schedule:wf:2026-01-01T02:00:00Z", "run-b") == "run-a"
        assert store.claim_key("schedule:wf:2026-01-01T02:00:00Z", "run-a") == "run-a"  # a retried claim reads as won
        assert store.read_record("schedule:wf:2026-01-01T02:00:00Z") == "run-a"

    def test_of_racing_claims_from_many_threads_exactly_one_wins(self, store: Store) -> None:
        start = threading.Barrier(8)
        answers: list[str] = []

        def claim(n: int) -> None:
            start.wait()
            answers.append(store.claim_key("race-key", f"claimer-{n}"))

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(answers) == 8 and len(set(answers)) == 1 and answers[0].startswith("claimer-")

    def test_a_record_is_replaced_by_each_write_and_unicode_survives(self, store: Store) -> None:
        store.write_record("scheduler:cursor:wf", "2026-01-01T02:00:00Z")
        store.write_record("scheduler:cursor:wf", "2026-01-02T02:00:00Z — 二")
        assert store.read_record("scheduler:cursor:wf") == "2026-01-02T02:00:00Z — 二"
        assert store.read_record("scheduler:cursor:other") is None

    def test_an_empty_key_or_value_is_refused_with_a_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.claim_key("", "v")
        with pytest.raises(StoreError):
            store.write_record("k", "")

    def test_a_held_lease_is_refused_to_others_and_renewed_by_its_owner(self, store: Store) -> None:
        holder, first_expiry = store.acquire_lease("scheduler", "node-a", 30.0)
        assert holder == "node-a" and first_expiry > time.time() + 20
        assert store.acquire_lease("scheduler", "node-b", 30.0)[0] == "node-a"
        renewed = store.acquire_lease("scheduler", "node-a", 60.0)
        assert renewed[0] == "node-a" and renewed[1] > first_expiry

    def test_an_expired_lease_is_taken_over(self, store: Store) -> None:
        assert store.acquire_lease("scheduler", "node-a", 0.3)[0] == "node-a"
        assert store.acquire_lease("scheduler", "node-b", 5.0)[0] == "node-a"
        time.sleep(0.5)
        assert store.acquire_lease("scheduler", "node-b", 5.0)[0] == "node-b"
        assert store.acquire_lease("scheduler", "node-a", 5.0)[0] == "node-b"

    def test_a_released_lease_is_free_at_once_but_only_its_owner_releases_it(self, store: Store) -> None:
        store.acquire_lease("scheduler", "node-a", 30.0)
        store.release_lease("scheduler", "node-b")
        assert store.acquire_lease("scheduler", "node-b", 30.0)[0] == "node-a"
        store.release_lease("scheduler", "node-a")
        assert store.acquire_lease("scheduler", "node-b", 30.0)[0] == "node-b"

    def test_claims_records_and_leases_survive_reopening_and_run_deletion(self, store: Store,
                                                                         reopened: ReopenStore) -> None:  # fmt: skip
        _add_run(store, "r1")
        store.claim_key("schedule:wf:t1", "r1")
        store.write_record("scheduler:cursor:wf", "t1")
        store.acquire_lease("scheduler", "node-a", 60.0)
        store.delete_run("r1")
        again = reopened(store)
        assert again.read_record("schedule:wf:t1") == "r1" and again.read_record("scheduler:cursor:wf") == "t1"
        assert again.acquire_lease("scheduler", "node-b", 60.0)[0] == "node-a"

    # -- fencing: fenced appends, the highest token per scope, lease epochs (contract version 7)

    def test_a_fenced_append_below_the_scopes_highest_token_is_refused_and_writes_nothing(self, store: Store) -> None:
        events = run_events("r1")
        assert store.append_fenced_events("r1", events[:2], 0, Fence("sched", 5)) == 2
        assert store.read_fence("sched") == 5
        assert store.append_fenced_events("r1", events[2:3], 2, Fence("sched", 7)) == 3
        with pytest.raises(StaleLeaderError) as refused:
            store.append_fenced_events("r1", events[3:], 3, Fence("sched", 5))
        assert (refused.value.scope, refused.value.token, refused.value.highest) == ("sched", 5, 7)
        assert isinstance(refused.value, StoreError) and "7" in str(refused.value)
        assert store.last_seq("r1") == 3 and store.read_fence("sched") == 7
        assert store.append_fenced_events("r1", events[3:], 3, Fence("sched", 7)) == 5  # the same token goes on

    def test_a_raised_fence_refuses_the_next_stale_append_to_any_run_of_its_scope(self, store: Store) -> None:
        store.append_fenced_events("r1", run_events("r1")[:2], 0, Fence("sched", 1))
        assert store.read_fence("other") is None
        assert store.raise_fence(Fence("sched", 2)) == 2
        with pytest.raises(StaleLeaderError):
            store.append_fenced_events("r2", run_events("r2"), 0, Fence("sched", 1))
        with pytest.raises(StaleLeaderError):
            store.raise_fence(Fence("sched", 1))
        assert store.read_events("r2") == [] and store.read_fence("sched") == 2
        assert store.append_fenced_events("r2", run_events("r2"), 0, Fence("other", 1)) == 5  # scopes are apart
        assert store.raise_fence(Fence("sched", 2)) == 2  # raising to the same token is no refusal

    def test_a_stale_fence_wins_over_a_sequence_conflict_and_a_bad_numbering(self, store: Store) -> None:
        events = run_events("r1")
        store.append_fenced_events("r1", events[:2], 0, Fence("sched", 9))
        with pytest.raises(StaleLeaderError):
            store.append_fenced_events("r1", events[2:], 0, Fence("sched", 8))  # wrong expected_seq too
        with pytest.raises(StaleLeaderError):
            store.append_fenced_events("r1", events[3:], 2, Fence("sched", 8))  # misnumbered too

    def test_a_batch_refused_for_its_sequence_records_no_fence(self, store: Store) -> None:
        events = run_events("r1")
        store.append_fenced_events("r1", events[:2], 0, Fence("sched", 1))
        with pytest.raises(SequenceConflictError):
            store.append_fenced_events("r1", events[2:], 1, Fence("sched", 4))
        assert store.read_fence("sched") == 1

    def test_an_empty_fenced_batch_records_the_fence(self, store: Store) -> None:
        assert store.append_fenced_events("r1", [], 0, Fence("sched", 3)) == 0
        assert store.read_fence("sched") == 3

    def test_tokens_compare_exactly_up_to_the_largest(self, store: Store) -> None:
        """64-bit tokens (a noop engine's are nanoseconds) must not be rounded, e.g. through a double."""
        store.raise_fence(Fence("sched", (1 << 62) + 1))
        with pytest.raises(StaleLeaderError):
            store.append_fenced_events("r1", run_events("r1"), 0, Fence("sched", 1 << 62))
        assert store.append_fenced_events("r1", run_events("r1"), 0, Fence("sched", MAX_FENCE_TOKEN)) == 5
        assert store.read_fence("sched") == MAX_FENCE_TOKEN

    def test_plain_appends_never_look_at_fences(self, store: Store) -> None:
        store.raise_fence(Fence("sched", 9))
        assert store.append_events("r1", run_events("r1"), 0) == 5

    def test_of_racing_fenced_appends_the_highest_token_is_never_refused(self, store: Store) -> None:
        start = threading.Barrier(6)
        refused: dict[int, int] = {}

        def lead(token: int) -> None:
            run_id = f"race-{token}"
            events = run_events(run_id)
            start.wait()
            for index in range(len(events)):
                try:
                    store.append_fenced_events(run_id, events[index : index + 1], index, Fence("sched", token))
                except StaleLeaderError as error:
                    refused[token] = error.highest
                    return

        threads = [threading.Thread(target=lead, args=(token,)) for token in range(1, 7)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert 6 not in refused and store.read_fence("sched") == 6 and store.last_seq("race-6") == 5
        assert all(highest > token for token, highest in refused.items())

    def test_a_lease_epoch_grows_with_every_new_holding_and_holds_while_renewed(self, store: Store) -> None:
        first = store.acquire_lease_epoch("scheduler", "node-a", 30.0)
        assert first.holder == "node-a" and first.expires_at > time.time() + 20
        assert store.acquire_lease_epoch("scheduler", "node-a", 30.0).epoch == first.epoch  # a renewal
        refused = store.acquire_lease_epoch("scheduler", "node-b", 30.0)
        assert (refused.holder, refused.epoch) == ("node-a", first.epoch)  # the holder's epoch, read atomically
        store.release_lease("scheduler", "node-a")
        second = store.acquire_lease_epoch("scheduler", "node-b", 0.3)
        assert second.holder == "node-b" and second.epoch > first.epoch
        time.sleep(0.5)
        third = store.acquire_lease_epoch("scheduler", "node-b", 30.0)  # its own, but expired: a new holding
        assert third.holder == "node-b" and third.epoch > second.epoch
        store.release_lease("scheduler", "node-b")
        assert store.acquire_lease_epoch("scheduler", "node-b", 30.0).epoch > third.epoch  # released: new too
        assert store.acquire_lease_epoch("other", "node-a", 30.0).epoch >= 1

    def test_acquire_lease_counts_holdings_too(self, store: Store) -> None:
        assert store.acquire_lease("scheduler", "node-a", 30.0)[0] == "node-a"
        before = store.acquire_lease_epoch("scheduler", "node-a", 30.0).epoch
        store.release_lease("scheduler", "node-a")
        assert store.acquire_lease("scheduler", "node-b", 30.0)[0] == "node-b"
        assert store.acquire_lease_epoch("scheduler", "node-b", 30.0).epoch == before + 1

    def test_fences_and_lease_epochs_survive_reopening(self, store: Store, reopened: ReopenStore) -> None:
        store.raise_fence(Fence("sched", 4))
        epoch = store.acquire_lease_epoch("scheduler", "node-a", 60.0).epoch
        store.release_lease("scheduler", "node-a")
        again = reopened(store)
        assert again.read_fence("sched") == 4
        with pytest.raises(StaleLeaderError):
            again.append_fenced_events("r1", run_events("r1"), 0, Fence("sched", 3))
        assert again.acquire_lease_epoch("scheduler", "node-b", 60.0).epoch > epoch

    # -- the audit log (contract version 8) ------------------------------------------------

    def test_audit_records_are_numbered_in_arrival_order_and_read_back_newest_first(self, store: Store) -> None:
        at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        first = store.append_audit(_audit(0, at=at, role="operator", target="run-1", client="127.0.0.1:5000"))
        second = store.append_audit(_audit(1, outcome="403"))
        assert (first.seq, second.seq) == (1, 2)
        page = store.read_audit()
        assert [record.seq for record in page.records] == [2, 1] and page.next_after is None
        assert page.records[1] == first
        assert (first.actor, first.role, first.action, first.target, first.outcome, first.client, first.at) == (
            "ci",
            "operator",
            "POST /api/v1/runs/{run_id}/cancel",
            "run-1",
            "200",
            "127.0.0.1:5000",
            at,
        )

    def test_audit_pages_follow_the_cursor_to_the_oldest_record_unshifted_by_new_appends(self, store: Store) -> None:
        for index in range(7):
            store.append_audit(_audit(index))
        first = store.read_audit(limit=3)
        assert [record.seq for record in first.records] == [7, 6, 5] and first.next_after == 5
        store.append_audit(_audit(99))  # arrives while a reader pages: the next page does not move
        second = store.read_audit(after=first.next_after, limit=3)
        assert [record.seq for record in second.records] == [4, 3, 2] and second.next_after == 2
        last = store.read_audit(after=second.next_after, limit=3)
        assert [record.seq for record in last.records] == [1] and last.next_after is None
        assert store.read_audit(limit=1).records[0].seq == 8

    def test_an_empty_audit_log_is_an_empty_last_page(self, store: Store) -> None:
        page = store.read_audit()
        assert page.records == [] and page.next_after is None

    @pytest.mark.parametrize(
        "arguments", [{"limit": 0}, {"limit": -1}, {"after": 0}, {"after": "2"}, {"after": 1 << 63}]
    )
    def test_an_impossible_audit_page_is_a_store_error(self, store: Store, arguments: dict[str, Any]) -> None:
        with pytest.raises(StoreError):
            store.read_audit(**arguments)

    def test_secret_looking_fields_and_credentials_in_an_audit_detail_are_masked(self, store: Store) -> None:
        detail = ('{"params": {"db_password": "hunter2-very-secret", "n": 1}, "api_key": 123456789}'
                  " token=tok-sekrit-value Authorization: Bearer abc.def-ghi")  # fmt: skip
        kept = store.append_audit(_audit(0, detail=detail))
        stored = store.read_audit().records[0]
        for secret in ("hunter2-very-secret", "123456789", "tok-sekrit-value", "abc.def-ghi"):
            assert secret not in kept.detail and secret not in stored.detail
        assert '"n": 1' in stored.detail and stored.detail.count("***") >= 4

    def test_audit_texts_are_bounded_and_say_they_were_cut(self, store: Store) -> None:
        kept = store.append_audit(_audit(0, detail="x" * (MAX_AUDIT_DETAIL * 10), target="t" * 100_000))
        stored = store.read_audit().records[0]
        assert stored == kept
        assert len(stored.detail) <= MAX_AUDIT_DETAIL and "cut" in stored.detail
        assert len(stored.target) <= MAX_AUDIT_FIELD and stored.target.startswith("ttt")

    def test_audit_text_that_is_not_valid_unicode_is_kept_readable(self, store: Store) -> None:
        kept = store.append_audit(_audit(0, detail="bad \udcff surrogate, 二 kept"))
        assert store.read_audit().records[0].detail == kept.detail and "二 kept" in kept.detail

    @pytest.mark.parametrize(("field", "value"), [("actor", ""), ("action", ""), ("outcome", 200), ("detail", b"raw"),
                                              ("at", datetime(2026, 1, 1))])  # fmt: skip
    def test_an_invalid_audit_record_is_refused_and_nothing_is_kept(self, store: Store, field: str,
                                                                     value: Any) -> None:  # fmt: skip
        with pytest.raises(StoreError):
            store.append_audit(_audit(0, **{field: value}))
        assert store.read_audit().records == []

    def test_audit_times_are_kept_in_utc(self, store: Store) -> None:
        local = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
        kept = store.append_audit(_audit(0, at=local))
        assert kept.at == local and kept.at.utcoffset() == timedelta(0)
        assert store.read_audit().records[0].at.tzinfo is not None

    def test_only_the_newest_audit_retention_records_are_kept(self, store: Store) -> None:
        store.audit_retention = 3
        for index in range(8):
            store.append_audit(_audit(index))
        page = store.read_audit(limit=100)
        assert [record.seq for record in page.records] == [8, 7, 6] and page.next_after is None
        assert [record.detail for record in page.records] == ["call 7", "call 6", "call 5"]
        assert store.read_audit(after=6).records == []

    def test_threads_appending_audit_records_at_once_all_land_with_distinct_numbers(self, store: Store) -> None:
        start = threading.Barrier(4)

        def append(writer: int) -> None:
            start.wait()
            for index in range(25):
                store.append_audit(_audit(index, actor=f"writer-{writer}"))

        threads = [threading.Thread(target=append, args=(writer,)) for writer in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        records = store.read_audit(limit=1000).records
        assert sorted(record.seq for record in records) == list(range(1, 101))
        assert sorted((r.actor, r.detail) for r in records) == sorted(
            (f"writer-{w}", f"call {i}") for w in range(4) for i in range(25)
        )

    def test_the_audit_log_belongs_to_no_run(self, store: Store) -> None:
        _add_run(store, "r1")
        store.append_audit(_audit(0, target="r1"))
        store.delete_run("r1")
        assert store.last_seq("r1") == 0 and len(store.read_audit().records) == 1
        assert not any(callable(getattr(store, name, None)) for name in ("delete_audit", "clear_audit"))

    def test_audit_records_survive_reopening_and_numbering_continues(self, store: Store,
                                                                      reopened: ReopenStore) -> None:  # fmt: skip
        written = [store.append_audit(_audit(index)) for index in range(3)]
        again = reopened(store)
        assert again.read_audit().records == written[::-1]
        assert again.append_audit(_audit(3)).seq == 4

    # -- durability -----------------------------------------------------------------------

    def test_everything_survives_reopening_the_store(self, store: Store, reopened: ReopenStore) -> None:
        events = _add_run(store, "r1", workflow="durable", created_at=42.0, output={"n": [1, "二"]})
        store.save_snapshot(fold_events("r1", events[:3]))
        digest = store.save_definition(b"name: durable\n")
        store.append_logs("r1", [LogLine("only", 1, "stdout", "kept")])
        ref = store.put_blob("r1", "big", b"\x00\xff" * 1000)
        again = reopened(store)
        assert again.read_events("r1") == events and again.last_seq("r1") == 5
        summary = again.get_run("r1")
        assert (summary.workflow, summary.status, summary.created_at, summary.last_seq) == (
            "durable",
            RunStatus.SUCCEEDED,
            42.0,
            5,
        )
        snapshot = again.load_snapshot("r1")
        assert snapshot is not None and snapshot.seq == 3
        assert again.load_definition(digest) == b"name: durable\n"
        assert again.read_logs("r1")[0].text == "kept" and again.get_blob(ref) == b"\x00\xff" * 1000
        assert [s.run_id for s in again.list_runs().runs] == ["r1"]

    def test_appends_continue_after_reopening(self, store: Store, reopened: ReopenStore) -> None:
        events = run_events("r1")
        store.append_events("r1", events[:3], 0)
        again = reopened(store)
        with pytest.raises(SequenceConflictError):
            again.append_events("r1", events[3:], 2)
        assert again.append_events("r1", events[3:], 3) == 5
        assert again.get_run("r1").status is RunStatus.SUCCEEDED

    def test_a_deletion_survives_reopening(self, store: Store, reopened: ReopenStore) -> None:
        _add_run(store, "gone")
        store.delete_run("gone")
        again = reopened(store)
        assert again.read_events("gone") == []
        with pytest.raises(RunNotFoundError):
            again.get_run("gone")

    def test_close_is_idempotent(self, store: Store, reopened: ReopenStore) -> None:
        again = reopened(store)
        again.close()
        again.close()

    # -- declared class attributes and bulk export ----------------------------------------

    def test_default_priority_is_an_int_and_default_url_names_the_scheme(self, store: Store) -> None:
        """``flowbuilder`` opens the highest-priority store at its ``default_url`` (empty: ``SCHEME://``)."""
        cls = type(store)
        assert isinstance(cls.default_priority, int) and not isinstance(cls.default_priority, bool)
        assert isinstance(cls.default_url, str)
        assert cls.default_url == "" or cls.default_url.startswith(f"{cls.scheme}://")

    def test_resolve_url_keeps_the_scheme_and_leaves_its_own_result_alone(self, store: Store, tmp_path: Path) -> None:
        """A ``store =`` URL in flowbuilder.toml goes through ``resolve_url(url, folder of the file)``."""
        cls = type(store)
        base = tmp_path / "config-folder"
        base.mkdir()
        resolved = cls.resolve_url(cls.default_url or f"{cls.scheme}://", base)
        assert isinstance(resolved, str) and resolved.startswith(f"{cls.scheme}://")
        assert cls.resolve_url(resolved, tmp_path / "elsewhere") == resolved

    def test_exists_answers_without_creating_anything(self, store: Store, tmp_path: Path) -> None:
        """Read-only commands ask ``exists`` first; asking must leave nothing behind."""
        cls = type(store)
        base = tmp_path / "empty-folder"
        base.mkdir()
        answer = cls.exists(cls.resolve_url(cls.default_url or f"{cls.scheme}://", base))
        assert isinstance(answer, bool)
        assert list(base.iterdir()) == []

    def test_export_events_returns_the_given_runs_with_events_as_encoded_lines(self, store: Store) -> None:
        from flowbuilder.events import encode_event

        first = _add_run(store, "x1")
        second = _add_run(store, "x2", status=None)
        runs, raw = store.export_events(["x2", "missing", "x1"])
        assert runs == ["x2", "x1"]
        assert raw == b"\n".join(encode_event(event) for event in second + first)

    def test_export_events_of_every_run_and_its_chunks_agree(self, store: Store) -> None:
        from flowbuilder.events import encode_event

        events = {run_id: _add_run(store, run_id) for run_id in ("y1", "y2", "y3")}
        runs, raw = store.export_events()
        assert sorted(runs) == ["y1", "y2", "y3"]
        assert raw == b"\n".join(encode_event(event) for run_id in runs for event in events[run_id])
        pieces = list(store.export_event_chunks())
        assert sorted(run_id for piece_runs, _ in pieces for run_id in piece_runs) == ["y1", "y2", "y3"]
        assert sorted(b"\n".join(piece for _, piece in pieces).split(b"\n")) == sorted(raw.split(b"\n"))

    def test_export_events_of_an_empty_store_is_empty(self, store: Store) -> None:
        assert store.export_events() == ([], b"")
        assert [piece for piece in store.export_event_chunks() if piece[0]] == []


__all__ = ["STORE_CONTRACT_VERSION", "ReopenStore", "StoreContract", "run_events"]
