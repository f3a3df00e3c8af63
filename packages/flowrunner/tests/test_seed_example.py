"""The seed workflow of the design brief runs end to end, offline, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "examples" / "seed" / "data-pipeline.yaml"
FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))


def test_the_seed_workflow_runs_end_to_end_against_the_local_server(http_server: str, tmp_path: Path) -> None:
    # The file is used unchanged except for the port, so the test never collides on :8000.
    workflow = tmp_path / "data-pipeline.yaml"
    workflow.write_text(SEED.read_text().replace("http://127.0.0.1:8000", http_server))
    done = subprocess.run([FLOWBUILDER, "run", "--json", "--store", "memory://", str(workflow)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    outputs = {e["task"]: e["data"]["output"] for e in events if e["kind"] == "task_succeeded"}
    assert outputs == {"fetch_data": outputs["fetch_data"], "process_data": {"count": 5}, "send_notification": "done"}
    assert events[-1]["data"]["status"] == "succeeded"


def test_a_failed_run_exits_1_and_lists_the_failure_with_its_last_log_lines(tmp_path: Path) -> None:
    workflow = tmp_path / "fails.yaml"
    workflow.write_text('name: f\ntasks:\n  - {name: bad, type: shell, config: {command: "echo why >&2; exit 4"}}\n')
    done = subprocess.run(
        [FLOWBUILDER, "run", "--store", "memory://", str(workflow)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "failed: bad" in done.stderr and "stderr: why" in done.stderr
