"""Task result caching in the scheduling core: hits, misses, what is stored and what never is.

Runs use the in-memory store (the store role itself is checked on every store by the Store
contract; across processes and on RocksDB and Redis by tests/test_cache_end_to_end.py).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from flowrunner_helpers import run_text
from flowrunner_sample_callables import CALLS

from flowbuilder.events import EventKind
from flowbuilder.interfaces import RunResult
from flowbuilder.stores.memory import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore.open(f"memory://{uuid.uuid4().hex}")


def _succeeded(store: MemoryStore, result: RunResult, task: str) -> dict[str, Any]:
    return dict(next(e.data for e in store.read_events(result.run_id)
                     if e.kind is EventKind.TASK_SUCCEEDED and e.task == task))  # fmt: skip


def _counting(name: str, cache: str = "true", extra: str = "") -> str:
    key = f"{name}-{uuid.uuid4().hex}"
    return (
        f"""
name: {name}
params:
  n: {{type: integer, default: 1}}
tasks:
  - name: work
    type: python
    config: {{callable: "flowrunner_sample_callables:count_call", args: ["{key}"]}}
    cache: {cache}
{extra}""",
        key,
    )  # type: ignore[return-value]


def test_a_second_run_is_served_from_the_first_runs_result(store: MemoryStore) -> None:
    """A hit skips the attempt and records where the result came from."""
    text, key = _counting("twice")
    first = run_text(text, store=store)
    second = run_text(text, store=store)
    assert CALLS[key] == 1
    served = _succeeded(store, second, "work")
    assert served["cached"]["run"] == first.run_id and len(served["cached"]["key"]) == 64
    assert store.load_state(second.run_id).cached["work"]["run"] == first.run_id
    assert "cached" not in _succeeded(store, first, "work")


def test_a_different_param_is_a_different_key(store: MemoryStore) -> None:
    text, key = _counting("params")
    run_text(text, store=store)
    run_text(text, {"n": 2}, store=store)
    run_text(text, {"n": 2}, store=store)
    assert CALLS[key] == 2


def test_use_cache_false_neither_reads_nor_writes_the_cache(store: MemoryStore) -> None:
    text, key = _counting("bypass")
    run_text(text, store=store, use_cache=False)
    assert store.list_cached_results() == []
    run_text(text, store=store)  # a miss: runs and stores
    run_text(text, store=store, use_cache=False)  # runs although an entry exists
    assert CALLS[key] == 3
    run_text(text, store=store)
    assert CALLS[key] == 3


def test_without_cache_nothing_is_looked_up_or_stored(store: MemoryStore) -> None:
    text, key = _counting("plain", cache="false")
    run_text(text, store=store)
    run_text(text, store=store)
    assert CALLS[key] == 2 and store.list_cached_results() == []


def test_defaults_cache_applies_unless_the_task_turns_it_off(store: MemoryStore) -> None:
    text = """
name: defaults
defaults: {cache: {ttl: 1h}}
tasks:
  - {name: kept, type: shell, config: {command: "echo kept"}}
  - {name: off, type: shell, config: {command: "echo off"}, cache: false}
"""
    run_text(text, store=store)
    entries = store.list_cached_results("defaults")
    assert [e.task for e in entries] == ["kept"]
    assert entries[0].expires_at is not None and 3590 < entries[0].expires_at - time.time() <= 3600


def test_an_upstream_output_that_changes_makes_the_downstream_key_change(store: MemoryStore, tmp_path: Path) -> None:
    value = tmp_path / "value"
    value.write_text("1")
    text = f"""
name: chain
tasks:
  - {{name: read, type: shell, config: {{command: "cat {value}"}}}}
  - name: use
    type: shell
    depends_on: [read]
    config: {{command: "echo used >> {tmp_path}/calls; echo done"}}
    cache: true
"""
    run_text(text, store=store)
    run_text(text, store=store)
    value.write_text("2")
    run_text(text, store=store)
    assert (tmp_path / "calls").read_text().split() == ["used", "used"]


def test_a_failed_attempt_is_not_stored_and_a_retried_success_is(store: MemoryStore, tmp_path: Path) -> None:
    text = f"""
name: flaky
tasks:
  - name: t
    type: shell
    retry: {{attempts: 2, backoff: 0.01}}
    config: {{command: "echo x >> {tmp_path}/calls; test $(wc -l < {tmp_path}/calls) -ge 2 && echo ok"}}
    cache: true
"""
    first = run_text(text, store=store)
    assert first.succeeded and first.tasks["t"].attempts == 2
    [entry] = store.list_cached_results("flaky")
    assert entry.output == "ok"
    assert run_text(text, store=store).tasks["t"].attempts == 1
    assert (tmp_path / "calls").read_text().split() == ["x", "x"]


def test_a_result_holding_a_secret_is_not_cached_and_the_key_never_holds_it(store: MemoryStore) -> None:
    text = """
name: secretive
tasks:
  - {name: leak, type: shell, config: {command: "echo ${{ secrets.TOKEN }}"}, cache: true}
  - {name: safe, type: shell, config: {command: "echo ${{ secrets.TOKEN }} | wc -c"}, cache: true}
"""
    result = run_text(text, store=store, secrets={"TOKEN": "hunter2-very-secret"})
    assert result.succeeded
    assert [e.task for e in store.list_cached_results("secretive")] == ["safe"]
    logs = [line.text for line in store.read_logs(result.run_id, "leak")]
    assert "result not cached: it holds a secret's value" in logs
    stored = repr([e.to_dict() for e in store.list_cached_results()])
    assert "hunter2" not in stored


def test_a_cached_table_is_served_by_reference_not_copied(store: MemoryStore) -> None:
    text = """
name: tables
tasks:
  - {name: load, type: python, config: {callable: "flowrunner_sample_callables:make_table", args: [500]},
     cache: true}
  - name: use
    type: python
    depends_on: [load]
    config: {callable: "flowrunner_sample_callables:table_identity", args: ["${{ tasks.load.output }}"]}
"""
    first = run_text(text, store=store)
    blobs = dict(store._data.blobs)
    second = run_text(text, store=store)
    recorded = _succeeded(store, second, "load")
    assert recorded["cached"]["run"] == first.run_id
    assert recorded["output"] == _succeeded(store, first, "load")["output"]  # the same blob reference
    assert store._data.blobs == blobs  # nothing written again
    assert isinstance(second.output("load"), pl.DataFrame) and second.output("load").height == 500
    assert second.output("use")["rows"] == 500


def test_a_hit_whose_table_is_gone_runs_the_task_and_says_why(store: MemoryStore) -> None:
    text = """
name: gone
tasks:
  - {name: load, type: python, config: {callable: "flowrunner_sample_callables:make_table", args: [5]}, cache: true}
"""
    first = run_text(text, store=store)
    store.delete_run(first.run_id)  # its blob goes with it; the cache entry stays
    second = run_text(text, store=store)
    assert second.succeeded and "cached" not in _succeeded(store, second, "load")
    assert any("cache lookup failed, running the task" in line.text for line in store.read_logs(second.run_id))
    assert run_text(text, store=store).output("load").height == 5


def test_a_key_expression_that_fails_fails_the_task_in_one_line(store: MemoryStore) -> None:
    text = """
name: badkey
params:
  day: {default: "x"}
tasks:
  - {name: t, type: shell, config: {command: "echo hi"}, cache: {key: "${{ params.day.missing.deeper }}"}}
"""
    result = run_text(text, store=store)
    assert not result.succeeded
    error = result.tasks["t"].error or ""
    assert "missing" in error and "\n" not in error and "Traceback" not in error


def test_named_outputs_come_back_from_the_cache(store: MemoryStore) -> None:
    text = """
name: named
tasks:
  - name: t
    type: shell
    config: {command: "echo '{\\"count\\": 4}'"}
    outputs: {count: "${{ output.count }}"}
    cache: true
  - {name: after, type: shell, depends_on: [t], config: {command: "echo ${{ tasks.t.outputs.count }}"}}
"""
    run_text(text, store=store)
    second = run_text(text, store=store)
    served = _succeeded(store, second, "t")
    assert "cached" in served and served["outputs"] == {"count": 4}
    assert second.output("after") == "4"


def test_changing_what_outputs_makes_of_the_result_is_a_miss(store: MemoryStore) -> None:
    template = """
name: reshaped
tasks:
  - name: t
    type: shell
    config: {command: "echo '{\\"count\\": 4}'"}
    outputs: {value: "${{ output.count EXPR }}"}
    cache: true
"""
    run_text(template.replace("EXPR", ""), store=store)
    changed = run_text(template.replace("EXPR", "* 2"), store=store)
    served = _succeeded(store, changed, "t")
    assert "cached" not in served and served["outputs"] == {"value": 8}


def test_an_entry_this_version_cannot_read_runs_the_task_and_a_fresh_entry_replaces_it(store: MemoryStore) -> None:
    text, key = _counting("future")
    run_text(text, store=store)
    [entry] = store.list_cached_results("future")
    address = ("future", "work", entry.key)
    store._data.cache[address] = b'{"v": 99, "workflow": "future"}'  # written by a newer FlowBuilder
    result = run_text(text, store=store)
    assert result.succeeded and CALLS[key] == 2
    assert any("newer FlowBuilder" in line.text for line in store.read_logs(result.run_id))
    assert store.get_cached_result(*address) is not None


class _BrokenCacheStore(MemoryStore):
    """A store whose cache role fails the way a backend might (not a FlowBuilderError)."""

    def get_cached_result(self, workflow: str, task: str, key: str) -> Any:
        raise RuntimeError("cache backend exploded")

    def put_cached_result(self, entry: Any) -> None:
        raise RuntimeError("cache backend exploded")


def test_a_failing_cache_never_fails_the_task() -> None:
    store = _BrokenCacheStore(f"memory://{uuid.uuid4().hex}")
    text, key = _counting("broken")
    result = run_text(text, store=store)
    assert result.succeeded and CALLS[key] == 1
    logs = [line.text for line in store.read_logs(result.run_id)]
    assert "cache lookup failed, running the task: RuntimeError: cache backend exploded" in logs
    assert "result not cached: RuntimeError: cache backend exploded" in logs
