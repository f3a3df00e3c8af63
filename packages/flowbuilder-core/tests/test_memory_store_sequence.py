"""memory:// refuses a batch that is not the run's next events, naming the first one out of place."""

from __future__ import annotations

import pytest

from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent, RunStatus
from flowbuilder.stores.memory import MemoryStore


def events(run_id: str, seqs: list[int]) -> list[RunEvent]:
    return [RunEvent(run_id, seq, EventKind.TASK_STARTED, "t", 1, {}, 1.0) for seq in seqs]


@pytest.fixture
def store() -> MemoryStore:
    MemoryStore.forget("memory://sequence")
    return MemoryStore("memory://sequence")


def test_a_batch_in_sequence_is_stored(store: MemoryStore) -> None:
    assert store.append_events("r", events("r", [1, 2, 3]), 0) == 3
    assert store.append_events("r", events("r", [4, 5]), 3) == 5
    assert [event.seq for event in store.read_events("r")] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (events("r", [1, 2, 4]), "run r: event 4 of run r out of sequence (expected 3)"),
        (events("r", [2, 3]), "run r: event 2 of run r out of sequence (expected 1)"),
        (events("r", [1]) + events("other", [2]), "run r: event 2 of run other out of sequence (expected 2)"),
        (events("r", [1, 1]), "run r: event 1 of run r out of sequence (expected 2)"),
    ],
    ids=["gap", "late-start", "another-run", "repeated"],
)
def test_a_batch_out_of_sequence_is_refused_whole(store: MemoryStore, batch: list[RunEvent], message: str) -> None:
    with pytest.raises(StoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
        store.append_events("r", batch, 0)
    assert store.last_seq("r") == 0  # nothing of it was stored


def test_the_run_summary_follows_every_batch_whether_or_not_it_holds_run_events(store: MemoryStore) -> None:
    created = RunEvent("r", 1, EventKind.RUN_CREATED, None, 0, {"workflow": "w", "version": "2"}, 5.0)
    started = RunEvent("r", 2, EventKind.RUN_STARTED, None, 0, {}, 6.0)
    store.append_events("r", [created, started, *events("r", [3, 4])], 0)
    summary = store.get_run("r")
    assert (summary.workflow, summary.version, summary.status, summary.created_at) == ("w", "2", RunStatus.RUNNING, 5.0)
    assert summary.last_seq == 4  # the last event of the batch, not the last run event
    store.append_events("r", events("r", [5, 6, 7]), 4)  # task events only
    assert store.get_run("r").last_seq == 7
    finished = RunEvent("r", 9, EventKind.RUN_FINISHED, None, 0, {"status": "succeeded"}, 8.0)
    store.append_events("r", [*events("r", [8]), finished], 7)
    summary = store.get_run("r")
    assert (summary.status, summary.finished_at, summary.last_seq) == (RunStatus.SUCCEEDED, 8.0, 9)
