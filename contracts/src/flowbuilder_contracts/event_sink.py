"""The EventSink contract: what every :class:`flowbuilder.interfaces.sink.EventSink` must do.

Subclass :class:`EventSinkContract` and give it one fixture, ``sink_for``: a callable taking
``(store, run_id)`` and returning the sink a plugin's ``flowbuilder_event_sinks`` would give
for that run when the plugin is switched on (a sink that is off is never created)::

    class TestMySink(EventSinkContract):
        @pytest.fixture
        def sink_for(self):
            return lambda store, run_id: MySink(store, run_id)

Events reach a sink as they do from the runner: recorded in the store first, then handed
over. The suite checks the interface's rules: batches of every size (empty too), of every event
kind, of several runs at once (a sink takes only what concerns it), hostile data (huge,
deep, non-ASCII, NaN, missing fields) never raise out of ``handle``; ``close`` may come
without any event; a sink never appends run events to the store (the runner alone writes a
run's log; a sink may annotate it); and after ``close`` (and whatever the sink finishes in
the background, waited for through its ``wait(timeout)`` if it has one) no non-daemon thread
the sink started is left to keep the process from exiting.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from typing import Any, Callable

import pytest

from flowbuilder import Store
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces.sink import EventSink
from flowbuilder.stores.memory import MemoryStore
from flowbuilder_contracts._audit import Contract, audit_implementation

EVENT_SINK_CONTRACT_VERSION = 1
SinkFor = Callable[[Store, str], EventSink]
THREAD_GRACE_SECONDS = 30.0
"""How long background work of a closed sink may still hold its own threads (a bound, not a figure)."""


def a_run(run_id: str, *, tasks: int = 4, start: float = 1_700_000_000.0) -> list[RunEvent]:
    """The events of one ordinary run: a chain of ``tasks`` tasks, one retried once, all succeeded."""
    events = [RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "contract", "version": "1",
                                                              "definition_hash": "0" * 64, "params": {}}),
              RunEvent(run_id, 2, EventKind.RUN_STARTED, data={"runner": "contract", "resumed": False})]  # fmt: skip
    now = start
    for index in range(tasks):
        task = f"t{index}"
        attempts = 2 if index == 1 else 1
        for attempt in range(1, attempts + 1):
            events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_STARTED, task, attempt, time=now))
            now += 0.5 + index
            if attempt < attempts:
                events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_FAILED, task, attempt,
                                       {"error": "boom", "exit_code": 1, "duration": 0.5, "final": False}, now))  # fmt: skip
                events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_RETRYING, task, attempt,
                                       {"delay": 0.1}, now))  # fmt: skip
            else:
                events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_SUCCEEDED, task, attempt,
                                       {"output": {"n": index}, "duration": 0.5 + index}, now))  # fmt: skip
    events.append(RunEvent(run_id, len(events) + 1, EventKind.RUN_FINISHED, data={"status": "succeeded"}, time=now))
    return events


def hostile_events(run_id: str) -> list[RunEvent]:
    """Events an unlucky run can produce: huge, deep, non-ASCII, NaN, and fields missing."""
    deep: dict[str, object] = {}
    level = deep
    for _ in range(200):
        level["d"] = {}
        level = level["d"]  # type: ignore[assignment]
    return [
        RunEvent(run_id, 1, EventKind.TASK_STARTED, "huge", 1),
        RunEvent(run_id, 2, EventKind.TASK_SUCCEEDED, "huge", 1, {"output": "x" * 1_000_000, "duration": 1.0}),
        RunEvent(run_id, 3, EventKind.TASK_SUCCEEDED, "déjà-vu ✓", 1, {"output": deep, "duration": math.nan}),
        RunEvent(run_id, 4, EventKind.TASK_FAILED, "bare", 1, {}),
        RunEvent(run_id, 5, EventKind.TASK_SUCCEEDED, None, 0, {"duration": -3}),
        RunEvent(run_id, 6, EventKind.TASK_ANNOTATED, "huge", 0, {"kind": "note", "text": "\x00\udcff"}),
        RunEvent(run_id, 7, EventKind.RUN_FINISHED, data={"status": "failed"}),
    ]


class EventSinkContract(Contract):
    """Abstract tests for an EventSink; provide ``sink_for``."""

    __contract__ = True

    @pytest.fixture
    def sink_for(self) -> SinkFor:
        raise NotImplementedError("an EventSinkContract subclass must define a `sink_for` fixture")

    @pytest.fixture
    def store(self) -> Store:
        """A memory store of this test's own (``memory://`` URLs name shared stores)."""
        return MemoryStore(f"memory://event-sink-contract-{uuid.uuid4().hex}")

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_an_event_sink(self, sink_for: SinkFor, store: Store) -> None:
        sink = sink_for(store, "run-a")
        try:
            assert isinstance(sink, EventSink)
        finally:
            sink.close()

    def test_takes_a_run_one_event_at_a_time_and_in_one_batch(self, sink_for: SinkFor, store: Store) -> None:
        one_by_one = sink_for(store, "run-a")
        for event in recorded(store, a_run("run-a")):
            one_by_one.handle([event])
        one_by_one.close()
        whole = sink_for(store, "run-b")
        whole.handle([])
        whole.handle(recorded(store, a_run("run-b")))
        whole.handle([])
        whole.close()

    def test_a_batch_of_several_runs_is_taken_without_error(self, sink_for: SinkFor, store: Store) -> None:
        sink = sink_for(store, "run-a")
        mixed = [event for pair in zip(a_run("run-a"), a_run("run-other"), strict=True) for event in pair]
        sink.handle(recorded(store, mixed))
        sink.close()

    def test_every_event_kind_is_taken(self, sink_for: SinkFor, store: Store) -> None:
        sink = sink_for(store, "run-a")
        needs: dict[EventKind, dict[str, Any]] = {EventKind.RUN_CREATED: {"workflow": "contract", "version": "1", "definition_hash": "0" * 64,
                                         "params": {}},
                 EventKind.RUN_FINISHED: {"status": "succeeded"}}  # fmt: skip
        kinds = [kind for kind in EventKind if kind is not EventKind.RUN_FINISHED] + [EventKind.RUN_FINISHED]
        events = [RunEvent("run-a", seq, kind, "t0", 1, needs.get(kind, {})) for seq, kind in enumerate(kinds, 1)]
        sink.handle(recorded(store, events))
        sink.close()

    def test_hostile_event_data_never_raises(self, sink_for: SinkFor, store: Store) -> None:
        sink = sink_for(store, "run-h")
        sink.handle(recorded(store, hostile_events("run-h")))
        sink.close()

    def test_close_without_any_event(self, sink_for: SinkFor, store: Store) -> None:
        sink_for(store, "run-a").close()

    def test_a_sink_never_appends_run_events(self, sink_for: SinkFor, store: Store) -> None:
        sink = sink_for(store, "run-a")
        appended = [event.seq for event in recorded(store, a_run("run-a"))]
        sink.handle([event for event in store.read_events("run-a")])
        sink.close()
        _settle(sink)
        assert [event.seq for event in store.read_events("run-a")] == appended

    def test_a_closed_sink_leaves_no_thread_that_holds_the_process(self, sink_for: SinkFor, store: Store) -> None:
        before = set(threading.enumerate())
        for index in range(3):
            sink = sink_for(store, f"run-{index}")
            sink.handle(recorded(store, a_run(f"run-{index}")))
            sink.close()
            _settle(sink)
        deadline = time.monotonic() + THREAD_GRACE_SECONDS
        while True:
            started = [thread for thread in set(threading.enumerate()) - before
                       if thread.is_alive() and not thread.daemon]  # fmt: skip
            if not started or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert started == [], f"non-daemon threads left behind: {[thread.name for thread in started]}"


def recorded(store: Store, events: list[RunEvent]) -> list[RunEvent]:
    """Append ``events`` to ``store`` (each run's in order, as the runner would) and return them."""
    by_run: dict[str, list[RunEvent]] = {}
    for event in events:
        by_run.setdefault(event.run_id, []).append(event)
    for run_id, run_events in by_run.items():
        store.append_events(run_id, run_events, 0)
    return events


def _settle(sink: EventSink) -> None:
    """Let a sink that finishes its work in the background (it may offer ``wait(timeout)``) do so."""
    wait = getattr(sink, "wait", None)
    if callable(wait):
        wait(THREAD_GRACE_SECONDS)


__all__ = ["EVENT_SINK_CONTRACT_VERSION", "EventSinkContract", "SinkFor", "a_run", "hostile_events", "recorded"]
