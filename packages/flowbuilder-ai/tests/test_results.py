"""Input and output digests of real runs recorded in a RocksDB store (flowbuilder_ai.results)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import polars as pl
import pytest

from flowbuilder.config import Settings
from flowbuilder.plugins import build_plugin_host
from flowbuilder.run_service import RunService
from flowbuilder_ai.results import load_results

WORKFLOW = """\
name: digests
params:
  n: {type: number, default: 3}
tasks:
  - {name: extract, type: shell, config: {command: "echo rows=${{ params.n }}"}}
  - {name: table, type: python, config: {callable: "polars:DataFrame", args: [{"a": [1, 2, 3]}]}}
  - {name: clock, type: shell, config: {command: "date +%s%N"}}
  - {name: report, type: shell, depends_on: [extract, table], config: {command: "echo ${{ tasks.extract.output }}"}}
  - {name: notify, type: shell, depends_on: [report], config: {command: "true"}}
  - {name: after_clock, type: shell, depends_on: [clock], config: {command: "echo same"}}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    pytest.importorskip("flowbuilder_storage")
    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner", "storage")))
    opened = host.open_store(f"rocksdb://{tmp_path / 'store'}")
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    service = RunService(host, opened)
    for n in (3, 3, 3, 5):
        assert service.run(service.prepare(path, {"n": n})).succeeded
    try:
        yield opened
    finally:
        opened.close()


def digests(frame: pl.DataFrame, task: str, column: str) -> list[str]:
    return frame.filter(pl.col("task") == task).sort("finished_at")[column].to_list()


def test_the_same_params_give_the_same_input_digest_and_others_a_new_one(store: Any) -> None:
    frame = load_results(store, "digests")
    inputs = digests(frame, "extract", "input_digest")
    assert len(inputs) == 4 and inputs[0] == inputs[1] == inputs[2] != inputs[3]
    outputs = digests(frame, "extract", "output_digest")
    assert outputs[0] == outputs[1] == outputs[2] != outputs[3]


def test_a_dependents_inputs_change_with_its_dependencies_outputs(store: Any) -> None:
    frame = load_results(store, "digests")
    inputs = digests(frame, "report", "input_digest")
    assert inputs[0] == inputs[1] == inputs[2] != inputs[3]  # extract's output changed in the last run
    # The same params every run, the same definition: only clock's output differs.
    assert len(set(digests(frame, "after_clock", "input_digest"))) == 4
    assert len(set(digests(frame, "after_clock", "output_digest"))) == 1


def test_tables_are_compared_by_content_not_by_their_blob_reference(store: Any) -> None:
    frame = load_results(store, "digests")
    assert len(set(digests(frame, "table", "output_digest"))) == 1
    references = set()
    for run_id in frame["run_id"].unique():
        for event in store.read_events(run_id):
            if event.task == "table" and event.kind.value == "task_succeeded":
                references.add(event.data["output"]["$blob"])
    assert len(references) == 4  # each run wrote its own blob


def test_an_output_that_changes_every_run_has_a_new_digest_every_run(store: Any) -> None:
    frame = load_results(store, "digests")
    assert len(set(digests(frame, "clock", "input_digest"))) == 2  # the params changed once
    assert len(set(digests(frame, "clock", "output_digest"))) == 4


def test_a_task_that_prints_nothing_has_an_empty_output(store: Any) -> None:
    frame = load_results(store, "digests")
    assert digests(frame, "notify", "output_empty") == [True] * 4
    assert digests(frame, "extract", "output_empty") == [False] * 4


def test_a_run_whose_definition_is_gone_has_no_input_digests(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowbuilder.errors import StoreError

    def gone(digest: str) -> bytes:
        raise StoreError(f"no definition {digest}")

    monkeypatch.setattr(store, "load_definition", gone)
    frame = load_results(store, "digests")
    assert frame.height == 24
    assert frame["input_digest"].null_count() == 24
    assert frame["output_digest"].null_count() == 0


def test_an_execution_served_from_the_cache_is_marked_served(tmp_path: Path) -> None:
    pytest.importorskip("flowbuilder_storage")
    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner", "storage")))
    store = host.open_store(f"rocksdb://{tmp_path / 'store'}")
    path = tmp_path / "wf.yaml"
    path.write_text("name: served\ntasks:\n  - {name: slow, type: shell, cache: true, config: {command: 'echo x'}}\n")
    try:
        service = RunService(host, store)
        for _ in range(2):
            assert service.run(service.prepare(path)).succeeded
        frame = load_results(store, "served").sort("finished_at")
    finally:
        store.close()
    assert frame["served"].to_list() == [False, True]
    assert frame["input_digest"].n_unique() == 1 and frame["output_digest"].n_unique() == 1
