"""examples/approval/ runs as its comments say: a timer, an approval decided from another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "approval"


def _cli() -> list[str]:
    return [str(Path(sys.executable).with_name("flowbuilder"))]


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}


def _read_until(stream: IO[str] | None, kind: str, task: str) -> dict[str, Any]:
    assert stream is not None
    while True:
        line = stream.readline()
        assert line, f"the run ended before {kind} of {task}"
        record = json.loads(line)
        if record.get("kind") == kind and record.get("task") == task:
            return dict(record)


@pytest.mark.parametrize(("decision", "by", "status", "ran"), [
    ('{"approved": true, "comment": "ship it"}', "bob", 0, "deploy"),
    ('{"approved": false}', "alice", 1, "tell_the_team"),
], ids=["approved", "rejected"])  # fmt: skip
def test_the_release_example_waits_then_follows_the_decision(tmp_path: Path, decision: str, by: str, status: int,
                                                             ran: str) -> None:  # fmt: skip
    store = f"rocksdb://{tmp_path / 'store'}"
    runner = subprocess.Popen([*_cli(), "run", "--json", "--store", store, str(EXAMPLE / "release.yaml"),
                               "--param", "cool_off=0.5s"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _read_until(runner.stdout, "task_succeeded", "cool_off")
        waiting = _read_until(runner.stdout, "task_waiting", "approve")
        assert waiting["data"]["message"] == "Release 1.4.2 to production?"
        run_id = waiting["run_id"]
        shown = subprocess.run([*_cli(), "runs", "show", run_id, "--store", store], cwd=tmp_path, env=_env(),
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert "waiting for signal 'release' from alice, bob until" in shown.stdout, shown.stdout
        sent = subprocess.run([*_cli(), "signal", run_id, "release", "--data", decision, "--by", by, "--store", store],
                              cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate(timeout=30)
    assert runner.returncode == status, err
    events = [json.loads(line) for line in out.splitlines()]
    succeeded = {e["task"]: e["data"]["output"] for e in events if e["kind"] == "task_succeeded"}
    assert ran in succeeded
    if ran == "deploy":
        assert succeeded["deploy"] == "deployed, approved by bob"


def test_the_python_example_approves_from_code() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE / "approve_from_python.py")], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["waiting for 'release' from alice, bob", "succeeded approved by alice"]
