"""flowbuilder-ai's anomalies in the live display of a real ``flowbuilder run`` (issue 14).

A RocksDB store gets a history of 25 ordinary runs (in this process, scoring off); then
``flowbuilder run --progress`` with ``FLOWBUILDER_AI__SCORING=true`` runs the same workflow
with ``fetch`` 20x slower than usual and a long ``tail`` (5 s) after it. The anomaly line for
``fetch`` must appear while ``tail`` still runs (the display reads annotations on a timer, not
only on events), the one for ``tail`` (scored after the run ended) before the summary, and
``runs show`` must list both.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = """\
name: live-anomaly
params:
  delay: {type: number, default: 0.05}
  tail: {type: number, default: 0.05}
tasks:
  - {name: fetch, type: shell, config: {command: "sleep ${{ params.delay }}"}}
  - {name: tail, type: shell, depends_on: [fetch], config: {command: "sleep ${{ params.tail }}"}}
"""
CLI = [str(Path(sys.executable).with_name("flowbuilder"))]
TIMEOUT = 120.0
LINE = r"anomaly: {task} took \d+\.\d s; its median is 0\.\d s(; [^(]+)? \(score -?\d\.\d\d\)$"


def _history(url: str, runs: int) -> None:
    from flowbuilder.config import Settings
    from flowbuilder.loader import load_workflow, plan_workflow
    from flowbuilder.plugins import build_plugin_host
    from flowbuilder.run_service import CompiledWorkflow, RunService
    from flowbuilder_storage.rocksdb_store import RocksDBStore

    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner", "ai"), sections={"ai": {"scoring": "false"}}))
    plan = plan_workflow(load_workflow(WORKFLOW, filename="wf.yaml"), host)
    with RocksDBStore.open(url) as store:
        for _ in range(runs):
            service = RunService(host, store)
            assert service.run(service.prepare(CompiledWorkflow(plan, WORKFLOW.encode()), {})).succeeded


def test_anomalies_show_in_the_live_display_while_the_run_goes(scratch_dir: Path) -> None:
    pytest.importorskip("flowbuilder_ai")
    pytest.importorskip("flowbuilder_storage")
    path = scratch_dir / "wf.yaml"
    path.write_text(WORKFLOW)
    url = f"rocksdb://{scratch_dir / 'store'}"
    _history(url, 25)
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env.update({"FLOWBUILDER_AI__SCORING": "true", "NO_COLOR": "1"})
    command = [*CLI, "run", str(path), "--store", url, "--progress", "-p", "delay=1.0", "-p", "tail=5.0"]
    done = subprocess.run(command, cwd=scratch_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=TIMEOUT, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()

    def where(pattern: str) -> int:
        found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
        assert found, (pattern, done.stdout)
        return found[0]

    fetch, tail = where(LINE.format(task="fetch")), where(LINE.format(task="tail"))
    summary = where(r"^run \S+: succeeded in ")
    # shown while tail still ran: tail's 5 s leave room for the scorer's cold start in this fresh
    # process (imports, model session, history read), which takes seconds on a loaded machine
    assert fetch < where(r" tail succeeded in "), done.stdout
    assert tail < summary, done.stdout  # scored after the run ended, shown before its summary
    run_id = lines[summary].split()[1].rstrip(":")
    shown = subprocess.run([*CLI, "runs", "show", run_id, "--store", url], capture_output=True, text=True,
                           timeout=TIMEOUT, check=False, env=env)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "anomaly fetch" in shown.stdout and "anomaly tail" in shown.stdout, shown.stdout
