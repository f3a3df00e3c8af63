"""Runs that cannot be stopped from inside: a real `flowbuilder run` still ends on signals.

The python callables block the CLI's own threads (``inline``: the event loop's thread;
``thread``: a thread of the process), which no cancellation can interrupt.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))
HERE = Path(__file__).resolve().parent


def _workflow(tmp_path: Path, task: str) -> Path:
    path = tmp_path / "stuck.yaml"
    path.write_text(f"name: stuck\ntasks:\n{task}".replace("READY", str(tmp_path / "ready")))
    return path


def _python_task(callable_: str, isolation: str, extra: str = "") -> str:
    return (
        f"  - name: stuck\n    type: python\n{extra}"
        f'    config: {{callable: "flowrunner_sample_callables:{callable_}", args: ["READY"], isolation: {isolation}}}\n'
    )


def _start(path: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([FLOWBUILDER, *args, str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for_start(process: subprocess.Popen[str], tmp_path: Path) -> list[dict]:
    """Wait until the callable runs (its events may not be written yet: the loop is blocked)."""
    deadline = time.monotonic() + 30
    while not (tmp_path / "ready").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the task never started: {process.communicate()}")
        time.sleep(0.02)
    return []


def _finish(process: subprocess.Popen[str], events: list[dict]) -> tuple[list[dict], str]:
    try:
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return events + [json.loads(line) for line in out.splitlines()], err


def test_sigterm_cancels_a_run_stuck_in_an_inline_call(tmp_path: Path) -> None:
    process = _start(
        _workflow(tmp_path, _python_task("never_returns", "inline")), "run", "--json", "--store", "memory://"
    )
    events = _wait_for_start(process, tmp_path)
    process.send_signal(signal.SIGTERM)
    events, err = _finish(process, events)
    assert process.returncode == 130, err
    assert [e["kind"] for e in events if e.get("task") == "stuck"] == ["task_started", "task_cancelled"]
    assert events[-1]["kind"] == "run_finished" and events[-1]["data"]["status"] == "cancelled"
    assert "Traceback" not in err


def test_two_ctrl_c_end_a_run_whose_inline_call_swallows_every_interrupt(tmp_path: Path) -> None:
    process = _start(
        _workflow(tmp_path, _python_task("swallows_interrupts", "inline")), "run", "--json", "--store", "memory://"
    )
    events = _wait_for_start(process, tmp_path)
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)  # two presses, not one the kernel merges
    process.send_signal(signal.SIGINT)
    _, err = _finish(process, events)
    assert process.returncode == 130, err
    assert "exiting now" in err and "Traceback" not in err


def test_a_thread_call_abandoned_by_defaults_timeout_does_not_keep_the_cli_alive(tmp_path: Path) -> None:
    path = _workflow(tmp_path, _python_task("never_returns", "thread"))
    path.write_text(path.read_text().replace("tasks:\n", "defaults: {timeout: 0.5}\ntasks:\n"))
    process = _start(path, "run", "--json", "--store", "memory://")
    events, err = _finish(process, [])
    assert process.returncode == 1, err
    assert [e["data"].get("timed_out") for e in events if e["kind"] == "task_failed"] == [True]


def test_ctrl_c_cancels_a_run_stuck_in_a_thread_call_and_exits(tmp_path: Path) -> None:
    process = _start(
        _workflow(tmp_path, _python_task("never_returns", "thread")), "run", "--json", "--store", "memory://"
    )
    events = _wait_for_start(process, tmp_path)
    process.send_signal(signal.SIGINT)
    events, err = _finish(process, events)
    assert process.returncode == 130, err
    assert events[-1]["kind"] == "run_finished" and events[-1]["data"]["status"] == "cancelled"


def test_validate_refuses_a_timeout_a_thread_call_cannot_keep_at_its_line(tmp_path: Path) -> None:
    path = _workflow(tmp_path, _python_task("never_returns", "thread", "    timeout: 2s\n"))
    process = _start(path, "validate")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert (out + err).startswith(f"{path}:5:14: task 'stuck': timeout cannot be kept: ")
    assert "isolation: process" in out + err and "Traceback" not in out + err
