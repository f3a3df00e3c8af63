"""Ctrl-C on a real `flowbuilder run` process: every task process dies, the exit code is 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from flowrunner_helpers import processes_with_env

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))
TASKS = 50


def _workflow(tmp_path: Path, token: str) -> Path:
    tasks = "\n".join(
        f'  - {{name: sleep_{i}, type: shell, config: {{command: "sleep 300; echo never"}}}}' for i in range(TASKS)
    )
    path = tmp_path / "sleepers.yaml"
    path.write_text(f'name: sleepers\nconcurrency: {TASKS}\nenv: {{TOKEN: "{token}"}}\ntasks:\n{tasks}\n')
    return path


def _start(tmp_path: Path, token: str) -> subprocess.Popen[str]:
    return subprocess.Popen([FLOWBUILDER, "run", "--json", "--store", "memory://", str(_workflow(tmp_path, token))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_until_all_started(process: subprocess.Popen[str], token: str) -> list[dict]:
    events = []
    assert process.stdout is not None
    for line in process.stdout:
        events.append(json.loads(line))
        if sum(e["kind"] == "task_started" for e in events) == TASKS:
            break
    deadline = time.monotonic() + 20
    while len(processes_with_env(token)) < TASKS and time.monotonic() < deadline:
        time.sleep(0.05)
    return events


def _assert_no_orphans(token: str) -> None:
    deadline = time.monotonic() + 10
    while processes_with_env(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with_env(token) == []


def test_ctrl_c_on_a_run_of_50_sleeping_shell_tasks_exits_130_and_leaves_no_orphan(tmp_path: Path) -> None:
    token = f"FLOWRUNNER_TEST_{uuid.uuid4().hex}"
    process = _start(tmp_path, token)
    try:
        events = _wait_until_all_started(process, token)
        assert sum(e["kind"] == "task_started" for e in events) == TASKS
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    events += [json.loads(line) for line in out.splitlines()]
    assert sum(e["kind"] == "task_cancelled" for e in events) == TASKS
    assert events[-1]["kind"] == "run_finished" and events[-1]["data"]["status"] == "cancelled"
    _assert_no_orphans(token)


def test_a_second_ctrl_c_still_leaves_no_orphan(tmp_path: Path) -> None:
    token = f"FLOWRUNNER_TEST_{uuid.uuid4().hex}"
    process = _start(tmp_path, token)
    try:
        _wait_until_all_started(process, token)
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    _assert_no_orphans(token)


def test_ctrl_c_during_an_inline_python_call_cancels_the_run_and_exits_130(tmp_path: Path) -> None:
    """A plain function runs inline on the scheduler's thread, so Ctrl-C lands inside the call
    itself: the run must still end cancelled (the call's task cancelled, its dependent
    skipped, never started) and the process exit 130, not fail the task or print a traceback.

    The call announces itself with a file (its ``task_started`` event reaches the output only
    after the step that holds the loop ends)."""
    began = tmp_path / "began"
    (tmp_path / "napper.py").write_text(
        "import time\n\ndef nap(marker):\n    open(marker, 'w').close()\n    time.sleep(300)\n"
    )
    path = tmp_path / "inline_sleep.yaml"
    path.write_text(
        "name: inline-sleep\ntasks:\n"
        f'  - {{name: nap, type: python, config: {{callable: "napper:nap", args: ["{began}"]}}}}\n'
        '  - {name: after, type: python, depends_on: [nap], config: {callable: "time:time"}}\n'
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    process = subprocess.Popen([FLOWBUILDER, "run", "--json", "--store", "memory://", str(path)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not began.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert began.exists(), process.communicate(timeout=10)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    events = [json.loads(line) for line in out.splitlines()]
    seen = [(e["kind"], e.get("task")) for e in events]
    assert ("task_cancelled", "nap") in seen and ("task_skipped", "after") in seen
    assert ("task_started", "after") not in seen and ("task_failed", "nap") not in seen
    assert events[-1]["kind"] == "run_finished" and events[-1]["data"]["status"] == "cancelled"
