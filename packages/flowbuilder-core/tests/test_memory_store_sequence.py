"""memory:// refuses a batch that is not the run's next events, naming the first one out of place."""

from __future__ import annotations

import pytest

from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent
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
