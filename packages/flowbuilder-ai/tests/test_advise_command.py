"""``flowbuilder advise``: the real CLI in a subprocess, over a RocksDB store holding real runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flowbuilder.config import Settings
from flowbuilder.plugins import build_plugin_host
from flowbuilder.run_service import RunService

WORKFLOW = """\
name: advise-demo
tasks:
  - {name: a, type: shell, timeout: 2h, config: {command: "true"}}
  - {name: b, type: shell, depends_on: [a], config: {command: "sleep 0.2"}}
"""
CLI = str(Path(sys.executable).with_name("flowbuilder"))


def advise(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "advise", *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def workflow_with_history(tmp_path: Path) -> tuple[Path, str]:
    pytest.importorskip("flowbuilder_storage")
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    url = f"rocksdb://{tmp_path / 'store'}"
    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner", "storage")))
    store = host.open_store(url)
    try:
        service = RunService(host, store)
        for _ in range(5):
            service.run(service.prepare(path))
    finally:
        store.close()
    return path, url


def test_advise_prints_findings_with_their_yaml(workflow_with_history: tuple[Path, str]) -> None:
    path, url = workflow_with_history
    result = advise(str(path), "--store", url, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["runs"] == 5
    kinds = {f["kind"]: f for f in report["findings"]}
    assert kinds["timeout_loose"]["yaml"] == "- name: a\n  timeout: 1m\n"
    assert kinds["critical_path"]["evidence"]["task"] == "b"
    text = advise(str(path), "--store", url)
    assert "[timeout_loose]" in text.stdout and "timeout: 1m" in text.stdout


def _store_damaged_copy(url: str, copy: str, exit_code: int, duration: float) -> None:
    """A copy of a stored run whose outcomes say ``exit_code`` and ``duration``."""
    import msgspec

    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner", "storage")))
    store = host.open_store(url, create=False)
    try:
        source = store.list_runs(limit=1).runs[-1].run_id
        changed = {"exit_code": exit_code, "duration": duration}
        events = [msgspec.structs.replace(event, run_id=copy, data={**event.data, **changed})
                  if event.kind.value in ("task_succeeded", "task_failed") else
                  msgspec.structs.replace(event, run_id=copy) for event in store.read_events(source)]  # fmt: skip
        store.append_events(copy, events, 0)
    finally:
        store.close()


def test_a_stored_exit_code_beyond_64_bits_or_a_damaged_duration_is_read_not_fatal(
    workflow_with_history: tuple[Path, str],
) -> None:
    """A run whose outcomes say ``exit_code: 10**30`` (any integer a task or a remote worker's
    result gave) once made Polars refuse the whole history, and a NaN, infinite or 1e308 s
    duration broke the timeout proposal's arithmetic: ``advise`` exited 70 on each."""
    path, url = workflow_with_history
    for number, (exit_code, duration) in enumerate([(10**30, 0.1), (-(2**63) - 1, float("nan")),
                                                    (1, float("inf")), (1, -5.0)]):  # fmt: skip
        _store_damaged_copy(url, f"damaged{number}", exit_code, duration)
    result = advise(str(path), "--store", url, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["runs"] == 9
    # The damaged durations are replaced by the event times: a's 2h timeout is still found loose.
    assert [f["yaml"] for f in report["findings"] if f["kind"] == "timeout_loose"] == ["- name: a\n  timeout: 1m\n"]
    _store_damaged_copy(url, "huge", 1, 1e308)  # finite, but twice it is not
    result = advise(str(path), "--store", url, "--json")
    assert result.returncode == 0, result.stderr


def test_advise_without_history_says_so(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    result = advise(str(path), "--store", f"rocksdb://{tmp_path / 'none'}")
    assert result.returncode == 0
    assert "0 runs" in result.stdout and "needs at least 5" in result.stdout
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"name: [unclosed", b"tasks: 3"])
def test_a_bad_workflow_is_located_and_exits_2_like_plan(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = advise(str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.strip()


CACHE_WORKFLOW = """\
name: cache-advice
params:
  n: {type: number, default: 3}
tasks:
  - {name: extract, type: shell, config: {command: "sleep 0.12; echo rows=${{ params.n }}"}}
  - {name: clock, type: shell, config: {command: "sleep 0.12; date +%s%N"}}
  - {name: report, type: shell, depends_on: [extract], config: {command: "sleep 0.12; echo ${{ tasks.extract.output }}"}}
  - {name: notify, type: shell, depends_on: [report], config: {command: "sleep 0.12"}}
"""


def run_times(path: Path, url: str, params: list[int]) -> None:
    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner", "storage")))
    store = host.open_store(url)
    try:
        service = RunService(host, store)
        for n in params:
            assert service.run(service.prepare(path, {"n": n})).succeeded
    finally:
        store.close()


def cache_candidates(path: Path, url: str) -> dict[str, dict[str, object]]:
    result = advise(str(path), "--store", url, "--json")
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    return {f["tasks"][0]: f for f in findings if f["kind"] == "cache_candidate"}


def test_advise_proposes_caching_what_gave_the_same_output_for_the_same_inputs(tmp_path: Path) -> None:
    """Real runs on RocksDB: the deterministic tasks are proposed, the clock and the silent one are not;
    once `cache: true` is pasted and runs are served from the cache, the task is not proposed again."""
    pytest.importorskip("flowbuilder_storage")
    path = tmp_path / "wf.yaml"
    path.write_text(CACHE_WORKFLOW)
    url = f"rocksdb://{tmp_path / 'store'}"
    run_times(path, url, [3, 3, 3, 3, 5])
    found = cache_candidates(path, url)
    assert sorted(found) == ["extract", "report"]
    assert found["extract"]["yaml"] == "- name: extract\n  cache: true\n"
    assert found["extract"]["evidence"]["same_input_runs"] == 4
    assert found["extract"]["evidence"]["would_hit"] == 3
    assert "4 of 4 runs with the same inputs gave the same output" in str(found["extract"]["message"])
    text = advise(str(path), "--store", url).stdout
    assert "[cache_candidate] extract" in text and "cache: true" in text

    path.write_text(CACHE_WORKFLOW.replace("{name: extract, type: shell,", "{name: extract, type: shell, cache: true,"))
    run_times(path, url, [3, 3])
    assert sorted(cache_candidates(path, url)) == ["report"]
