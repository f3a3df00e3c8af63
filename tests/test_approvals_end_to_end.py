"""Approvals and durable timers with real processes and the real stores (issue 11, item 3).

``flowbuilder run`` executes a workflow in one process; approvals are decided from others
with ``flowbuilder signal``. A runner killed with SIGKILL leaves its waiting tasks recorded
(``task_waiting`` with the wall-clock ``until``); ``flowbuilder resume`` waits only for what
is left, and honours a signal sent while no process ran the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Iterator

import pytest

APPROVAL = """\
name: release
tasks:
  - {name: build, type: shell, config: {command: "echo built"}}
  - name: gate
    type: approval
    depends_on: build
    config:
      signal: release-prod
      approvers: [alice]
      message: "Ship build to production?"
  - {name: ship, type: shell, depends_on: gate, config: {command: "echo shipped"}}
  - {name: on_no, type: shell, depends_on: gate, run_if: any_failed, config: {command: "echo rolled back"}}
"""
TIMER = """\
name: timer
tasks:
  - {name: pause_a_bit, type: wait, config: {for: 4s}}
  - {name: after, type: shell, depends_on: pause_a_bit, config: {command: "echo after"}}
"""


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("flowbuilder")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}


def _flowbuilder(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_cli(), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=60)


def _start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*_cli(), *args, "--json"], cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _read_until(stream: IO[str] | None, kind: str) -> dict[str, Any]:
    """The first JSON line of ``stream`` whose kind is ``kind`` (lines of other kinds are skipped)."""
    assert stream is not None
    while True:
        line = stream.readline()
        assert line, f"the run ended before a {kind} event"
        record = json.loads(line)
        if record.get("kind") == kind:
            return dict(record)


def _events(store_url: str, run_id: str, cwd: Path) -> list[dict[str, Any]]:
    shown = _flowbuilder("runs", "watch", run_id, "--json", "--store", store_url, cwd=cwd)
    return [json.loads(line)["event"] for line in shown.stdout.splitlines() if '"event"' in line]


def _state(store_url: str, run_id: str, cwd: Path) -> dict[str, Any]:
    shown = _flowbuilder("runs", "show", run_id, "--json", "--store", store_url, cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout)["state"])


@pytest.fixture
def waiting_release(scratch_dir: Path, store_url: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``flowbuilder run --json`` of the release workflow, its approval waiting; its run id."""
    (scratch_dir / "release.yaml").write_text(APPROVAL)
    runner = _start("run", "--store", store_url, "release.yaml", cwd=scratch_dir)
    try:
        waiting = _read_until(runner.stdout, "task_waiting")
        assert waiting["task"] == "gate" and waiting["data"]["signal"] == "release-prod"
        yield runner, waiting["run_id"]
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.communicate(timeout=30)


def _signal(store_url: str, run_id: str, cwd: Path, data: str, by: str, *more: str) -> None:
    sent = _flowbuilder("signal", run_id, "release-prod", "--data", data, "--by", by, "--store", store_url, *more,
                        cwd=cwd)  # fmt: skip
    assert sent.returncode == 0, sent.stderr


def test_an_approval_decided_with_flowbuilder_signal_lets_the_run_go_on(
    waiting_release: tuple[subprocess.Popen[str], str], store_url: str, scratch_dir: Path
) -> None:
    runner, run_id = waiting_release
    shown = _flowbuilder("runs", "show", run_id, "--store", store_url, cwd=scratch_dir)
    assert "waiting" in shown.stdout and "waiting for signal 'release-prod' from alice (no timeout)" in shown.stdout
    assert f"flowbuilder signal {run_id} release-prod --data" in shown.stdout
    assert "Ship build to production?" in shown.stdout
    _signal(store_url, run_id, scratch_dir, '{"approved": true, "comment": "go"}', "alice@desk:1")
    runner.communicate(timeout=60)
    assert runner.returncode == 0
    tasks = _state(store_url, run_id, scratch_dir)["tasks"]
    assert tasks["gate"]["output"]["by"] == "alice@desk:1"
    assert tasks["gate"]["output"]["payload"] == {"approved": True, "comment": "go"}
    assert tasks["ship"]["status"] == "succeeded" and tasks["on_no"]["status"] == "skipped"


def test_a_rejection_fails_the_approval_and_runs_the_any_failed_task(
    waiting_release: tuple[subprocess.Popen[str], str], store_url: str, scratch_dir: Path
) -> None:
    runner, run_id = waiting_release
    _signal(store_url, run_id, scratch_dir, '{"approved": false}', "alice", "--reason", "change freeze")
    runner.communicate(timeout=60)
    assert runner.returncode == 1
    tasks = _state(store_url, run_id, scratch_dir)["tasks"]
    assert tasks["gate"]["error"] == "approval 'release-prod' rejected by alice: change freeze"
    assert tasks["ship"]["status"] == "skipped" and tasks["on_no"]["status"] == "succeeded"


def test_a_signal_from_a_non_approver_is_refused_and_shown(
    waiting_release: tuple[subprocess.Popen[str], str], store_url: str, scratch_dir: Path
) -> None:
    runner, run_id = waiting_release
    _signal(store_url, run_id, scratch_dir, '{"approved": true}', "mallory")
    refused = _read_until(runner.stdout, "task_signal_refused")
    assert refused["task"] == "gate" and refused["data"]["by"] == "mallory"
    assert _state(store_url, run_id, scratch_dir)["tasks"]["gate"]["status"] == "waiting"
    shown = _flowbuilder("runs", "show", run_id, "--store", store_url, cwd=scratch_dir)
    assert "refused a signal from mallory: mallory is not an approver of 'release-prod'" in shown.stdout
    _signal(store_url, run_id, scratch_dir, "true", "alice")
    runner.communicate(timeout=60)
    assert runner.returncode == 0
    assert _state(store_url, run_id, scratch_dir)["tasks"]["gate"]["output"]["by"] == "alice"


def test_the_timeout_default_decides_when_nobody_does(scratch_dir: Path, store_url: str) -> None:
    (scratch_dir / "release.yaml").write_text(
        APPROVAL.replace("approvers: [alice]", "timeout: 1s\n      default: approve")
    )
    ran = _flowbuilder("run", "--json", "--store", store_url, "release.yaml", cwd=scratch_dir)
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(ran.stdout.splitlines()[0])["run_id"]
    gate = _state(store_url, run_id, scratch_dir)["tasks"]["gate"]
    assert gate["output"]["approved"] is True and gate["output"]["default"] is True


def _kill(runner: subprocess.Popen[str]) -> None:
    runner.send_signal(signal.SIGKILL)
    runner.communicate(timeout=30)


def test_a_wait_killed_and_resumed_waits_only_for_the_time_left(scratch_dir: Path, store_url: str) -> None:
    (scratch_dir / "timer.yaml").write_text(TIMER)
    runner = _start("run", "--store", store_url, "timer.yaml", cwd=scratch_dir)
    try:
        first = _read_until(runner.stdout, "task_waiting")
    finally:
        _kill(runner)
    run_id = first["run_id"]
    until = first["data"]["until"]
    assert until == pytest.approx(first["data"]["since"] + 4.0)
    shown = _flowbuilder("runs", "show", run_id, "--store", store_url, cwd=scratch_dir)
    assert "interrupted" in shown.stdout and "goes on when the run is resumed" in shown.stdout
    resumed = _flowbuilder("resume", run_id, "--json", "--store", store_url, cwd=scratch_dir)
    assert resumed.returncode == 0, resumed.stderr
    events = _events(store_url, run_id, scratch_dir)
    waits = [e for e in events if e["kind"] == "task_waiting"]
    assert len(waits) == 2 and waits[1]["data"]["until"] == until  # the same end, not a fresh 4 s
    assert waits[1]["data"]["resumed"] is True and waits[1]["data"]["since"] == first["data"]["since"]
    [done] = [e for e in events if e["kind"] == "task_succeeded" and e["task"] == "pause_a_bit"]
    assert done["time"] >= until
    resumed_at = next(e["time"] for e in events if e["kind"] == "run_started" and e["data"].get("resumed"))
    assert done["time"] < resumed_at + 4.0  # a fresh wait would have ended 4 s after the resume


def test_an_approval_signalled_while_no_process_runs_it_is_honoured_on_resume(
    scratch_dir: Path, store_url: str
) -> None:
    (scratch_dir / "release.yaml").write_text(APPROVAL)
    runner = _start("run", "--store", store_url, "release.yaml", cwd=scratch_dir)
    try:
        run_id = _read_until(runner.stdout, "task_waiting")["run_id"]
    finally:
        _kill(runner)
    sent = _flowbuilder("signal", run_id, "release-prod", "--data", '{"approved": true}', "--by", "alice",
                        "--store", store_url, cwd=scratch_dir)  # fmt: skip
    assert sent.returncode == 0 and "interrupted" in sent.stderr, sent.stderr
    resumed = _flowbuilder("resume", run_id, "--store", store_url, cwd=scratch_dir)
    assert resumed.returncode == 0, resumed.stderr
    tasks = _state(store_url, run_id, scratch_dir)["tasks"]
    assert tasks["gate"]["output"]["by"] == "alice" and tasks["ship"]["status"] == "succeeded"


def test_an_approval_waits_across_a_restart_and_goes_on_when_the_signal_comes(
    scratch_dir: Path, store_url: str
) -> None:
    (scratch_dir / "release.yaml").write_text(APPROVAL)
    runner = _start("run", "--store", store_url, "release.yaml", cwd=scratch_dir)
    try:
        run_id = _read_until(runner.stdout, "task_waiting")["run_id"]
    finally:
        _kill(runner)
    resumed = _start("resume", run_id, "--store", store_url, cwd=scratch_dir)
    try:
        again = _read_until(resumed.stdout, "task_waiting")
        assert again["task"] == "gate" and again["attempt"] == 2
        _signal(store_url, run_id, scratch_dir, '{"approved": true}', "alice")
        resumed.communicate(timeout=60)
    finally:
        if resumed.poll() is None:
            resumed.kill()
            resumed.communicate(timeout=30)
    assert resumed.returncode == 0
    state = _state(store_url, run_id, scratch_dir)
    assert state["status"] == "succeeded" and state["tasks"]["ship"]["status"] == "succeeded"
    assert "signals" not in state  # the one signal was taken, so a later resume cannot apply it again


def test_waiting_approvals_take_no_slot_of_the_runs_concurrency(scratch_dir: Path, store_url: str) -> None:
    gates = "\n".join(f"  - {{name: gate{i}, type: approval, config: {{signal: go{i}}}}}" for i in range(8))
    (scratch_dir / "many.yaml").write_text(f"""\
name: many
concurrency: 2
tasks:
{gates}
  - {{name: one, type: shell, config: {{command: "echo 1"}}}}
  - {{name: two, type: shell, depends_on: one, config: {{command: "echo 2"}}}}
  - {{name: three, type: shell, depends_on: two, config: {{command: "echo 3"}}}}
""")
    runner = _start("run", "--store", store_url, "many.yaml", cwd=scratch_dir)
    try:
        run_id = _read_until(runner.stdout, "task_started")["run_id"]
        deadline = time.monotonic() + 60
        while True:  # the chain finishes while eight approvals wait under concurrency 2
            tasks = _state(store_url, run_id, scratch_dir)["tasks"]
            if tasks.get("three", {}).get("status") == "succeeded":
                break
            assert time.monotonic() < deadline, f"the chain did not finish while approvals waited: {tasks}"
            time.sleep(0.2)
        assert [tasks[f"gate{i}"]["status"] for i in range(8)] == ["waiting"] * 8
        for i in range(8):
            sent = _flowbuilder("signal", run_id, f"go{i}", "--data", "true", "--store", store_url, cwd=scratch_dir)
            assert sent.returncode == 0, sent.stderr
        runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate(timeout=30)
    assert runner.returncode == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{for: 2h, until: '2026-12-06T08:00:00Z'}", "give `for` (a duration) or `until` (a time), one of them"),
        ("{until: '2026-12-06T08:00:00'}", "has no time zone"),
        ("{until: soon}", "is not an ISO 8601 time"),
        ("{for: -5}", "greater than 0"),
        ("{for: 1e12}", "less than or equal to"),
        ("{for: 2h, extra: 1}", "extra"),
    ],
    ids=["both", "no-zone", "not-a-time", "negative", "huge", "unknown-field"],
)
def test_a_bad_wait_is_a_located_error(scratch_dir: Path, config: str, message: str) -> None:
    (scratch_dir / "bad.yaml").write_text(f"name: bad\ntasks:\n  - name: w\n    type: wait\n    config: {config}\n")
    checked = _flowbuilder("validate", "bad.yaml", cwd=scratch_dir)
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    assert "bad.yaml:5:" in checked.stderr and message in checked.stderr, checked.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{approvers: [alice]}", "signal"),
        ("{signal: 9lives}", "should match pattern"),
        ("{signal: go, approvers: []}", "at least 1 item"),
        ("{signal: go, default: maybe}", "'approve' or 'reject'"),
        ("{signal: go, timeout: forever}", "is not a duration"),
    ],
    ids=["no-signal", "bad-signal", "no-approvers", "bad-default", "bad-timeout"],
)
def test_a_bad_approval_is_a_located_error(scratch_dir: Path, config: str, message: str) -> None:
    (scratch_dir / "bad.yaml").write_text(f"name: bad\ntasks:\n  - name: a\n    type: approval\n    config: {config}\n")
    checked = _flowbuilder("validate", "bad.yaml", cwd=scratch_dir)
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    assert "bad.yaml:" in checked.stderr and message in checked.stderr, checked.stderr


def test_a_task_timeout_on_an_approval_is_refused_where_it_is_written(scratch_dir: Path) -> None:
    (scratch_dir / "bad.yaml").write_text(
        "name: bad\ntasks:\n  - name: a\n    type: approval\n    timeout: 5m\n    config: {signal: go}\n"
    )
    checked = _flowbuilder("validate", "bad.yaml", cwd=scratch_dir)
    assert checked.returncode == 2 and "bad.yaml:5:" in checked.stderr
    assert "give the wait's own limit in its config" in checked.stderr, checked.stderr


def test_a_signal_recorded_before_the_approval_waited_is_kept_across_a_crash(scratch_dir: Path, store_url: str) -> None:
    """The run records the signal while the approval's upstream still runs, then dies; the resumed
    approval takes the recorded signal (``RunState.signals``) instead of waiting for another."""
    gated = APPROVAL.replace(
        'command: "echo built"', 'command: "for i in $(seq 600); do test -f built && exit 0; sleep 0.05; done; exit 1"'
    )
    (scratch_dir / "release.yaml").write_text(gated)
    runner = _start("run", "--store", store_url, "release.yaml", cwd=scratch_dir)
    try:
        run_id = _read_until(runner.stdout, "task_started")["run_id"]
        _signal(store_url, run_id, scratch_dir, '{"approved": true}', "alice")
        _read_until(runner.stdout, "run_signalled")
    finally:
        _kill(runner)
    (scratch_dir / "built").touch()
    assert _state(store_url, run_id, scratch_dir)["signals"][0]["by"] == "alice"
    resumed = _flowbuilder("resume", run_id, "--store", store_url, cwd=scratch_dir)
    assert resumed.returncode == 0, resumed.stderr
    tasks = _state(store_url, run_id, scratch_dir)["tasks"]
    assert tasks["gate"]["output"]["by"] == "alice" and tasks["ship"]["status"] == "succeeded"
