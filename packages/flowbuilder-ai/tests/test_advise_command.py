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
