"""The SLA warning and the predicted finish in the real CLI: ``flowbuilder run`` and ``runs show``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = """\
name: cli-sla
sla: 0.2s
tasks:
  - {name: a, type: shell, config: {command: "true"}}
  - {name: b, type: shell, depends_on: [a], config: {command: "sleep 0.3"}}
"""
CLI = str(Path(sys.executable).with_name("flowbuilder"))


def flowbuilder(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, check=False)


def test_run_progress_and_runs_show_carry_the_sla_warning(tmp_path: Path) -> None:
    pytest.importorskip("flowbuilder_storage")
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    store = f"rocksdb://{tmp_path / 'store'}"
    first = flowbuilder("run", str(path), "--store", store, "--progress")
    assert first.returncode == 0, first.stderr
    assert "sla_warning" not in first.stderr  # no history yet: no prediction, no warning
    for _ in range(2):
        assert flowbuilder("run", str(path), "--store", store).returncode == 0
    live = flowbuilder("run", str(path), "--store", store, "--progress")
    assert live.returncode == 0, live.stderr
    assert "sla_warning: predicted to take" in live.stderr and "its SLA is 0.2s" in live.stderr
    run_id = live.stdout.split("run ", 1)[1].split(":", 1)[0]
    shown = flowbuilder("runs", "show", run_id, "--store", store)
    assert "sla_warning by flowbuilder-ai" in shown.stdout and "eta by flowbuilder-ai" in shown.stdout
