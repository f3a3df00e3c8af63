"""Following and annotating a real run from other processes, on each durable store.

``flowbuilder run`` executes a workflow of slow shell tasks; meanwhile another process
watches it (``runs watch --json``) and this test process — a second writer — adds
annotations. The run must succeed (annotations never conflict with the runner's appends),
the watcher must print every event and the annotations and end by itself with the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flowbuilder import Annotation
from flowbuilder.plugins import build_plugin_host

WORKFLOW = """\
name: slow
tasks:
  - name: a
    type: shell
    config: {command: "sleep 1"}
  - name: b
    type: shell
    depends_on: [a]
    config: {command: "sleep 1"}
  - name: c
    type: shell
    depends_on: [b]
    config: {command: "sleep 1"}
"""


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("flowbuilder")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def test_a_live_run_is_watched_and_annotated_from_other_processes(scratch_dir: Path, store_url: str) -> None:
    (scratch_dir / "slow.yaml").write_text(WORKFLOW)
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    runner = subprocess.Popen([*_cli(), "run", "--json", "--store", store_url, "slow.yaml"], cwd=scratch_dir,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    watcher: subprocess.Popen[str] | None = None
    try:
        assert runner.stdout is not None
        run_id = json.loads(runner.stdout.readline())["run_id"]
        watcher = subprocess.Popen([*_cli(), "runs", "watch", run_id, "--json", "--store", store_url],
                                   cwd=scratch_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        store = build_plugin_host().open_store(store_url)
        try:
            numbers = [store.annotate(run_id, Annotation("note", {"i": i}, author="test")).number for i in range(20)]
            still_running = runner.poll() is None
        finally:
            store.close()
        assert numbers == list(range(1, 21))
        assert still_running, "the run ended before the annotations were written; make its tasks slower"
        _, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err  # no sequence conflict for the runner
        watched, watch_err = watcher.communicate(timeout=60)
        assert watcher.returncode == 0, watch_err
    finally:
        for process in (runner, watcher):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    records = [json.loads(line) for line in watched.splitlines()]
    seqs = [r["event"]["seq"] for r in records if "event" in r]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [r["event"]["kind"] for r in records if "event" in r][-1] == "run_finished"
    assert sorted(r["annotation"]["number"] for r in records if "annotation" in r) == list(range(1, 21))
    shown = subprocess.run([*_cli(), "runs", "show", run_id, "--json", "--store", store_url], cwd=scratch_dir,
                           env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    data = json.loads(shown.stdout)
    assert data["run"]["status"] == "succeeded" and len(data["annotations"]) == 20
