"""Tabular outputs travel to dependents by reference and are stored as Arrow IPC blobs."""

from __future__ import annotations

import io
import uuid

import polars as pl
from flowrunner_helpers import run_text

from flowbuilder.events import EventKind
from flowbuilder.stores.memory import MemoryStore


def test_a_polars_table_reaches_dependents_as_the_same_object_and_is_stored_as_an_arrow_blob() -> None:
    store = MemoryStore.open(f"memory://{uuid.uuid4().hex}")
    result = run_text("""
name: tables
tasks:
  - {name: load, type: python, config: {callable: "flowrunner_sample_callables:make_table", args: [1000]}}
  - name: use
    type: python
    depends_on: [load]
    config: {callable: "flowrunner_sample_callables:table_identity", args: ["${{ tasks.load.output }}"]}
""", store=store)  # fmt: skip
    table = result.output("load")
    assert isinstance(table, pl.DataFrame)
    assert result.output("use") == {"rows": 1000, "object_id": id(table)}
    stored = next(
        e for e in store.read_events(result.run_id) if e.kind is EventKind.TASK_SUCCEEDED and e.task == "load"
    )
    reference = stored.data["output"]
    assert reference["format"] == "arrow-ipc" and reference["rows"] == 1000
    assert pl.read_ipc(io.BytesIO(store.get_blob(reference["$blob"]))).equals(table)
