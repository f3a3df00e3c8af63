"""No task process outlives its attempt (Linux): escapees, a SIGKILLed runner, a resume.

Every test drives a real `flowbuilder run` process and looks at /proc; whatever a test
started is killed in a finally.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from flowrunner_helpers import processes_with_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guarantees are Linux's")

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))
ESCAPE = "setsid sh -c 'echo $$ > {pidfile}; exec sleep 60' > /dev/null 2>&1 &"
DAEMON = """import os, sys, time
if os.fork(): os._exit(0)
os.setsid()
if os.fork(): os._exit(0)
open(sys.argv[1], "w").write(str(os.getpid()))
os.close(1); os.close(2)
time.sleep(60)
"""


def _token() -> str:
    return f"FLOWRUNNER_TEST_{uuid.uuid4().hex}"


def _workflow(tmp_path: Path, token: str, tasks: str) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(f'name: orphans\nenv: {{TOKEN: "{token}"}}\ntasks:\n{tasks}')
    return path


def _shell(name: str, command: str, extra: str = "") -> str:
    return f"  - name: {name}\n    type: shell\n    {extra}config: {{command: {json.dumps(command)}}}\n"


def _wait_for_file(path: Path) -> str:
    return f"while [ ! -s {path} ]; do sleep 0.01; done"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone_soon(token: str, seconds: float = 10) -> list[int]:
    deadline = time.monotonic() + seconds
    while processes_with_env(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    return processes_with_env(token)


def _kill_all(token: str) -> None:
    for pid in processes_with_env(token):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _run(path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([FLOWBUILDER, "run", "--json", "--store", "memory://", *extra, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _events_until(process: subprocess.Popen[str], kind: str, count: int = 1) -> list[dict]:
    events = []
    assert process.stdout is not None
    for line in process.stdout:
        events.append(json.loads(line))
        if sum(event["kind"] == kind for event in events) >= count:
            break
    return events


def test_a_setsid_child_is_killed_when_its_attempt_ends_not_at_run_end(tmp_path: Path) -> None:
    """The next task starts only after the escaped child of the previous one is dead."""
    token, pidfile = _token(), tmp_path / "escapee.pid"
    tasks = _shell("escape", f"{ESCAPE.format(pidfile=pidfile)} {_wait_for_file(pidfile)}") + _shell(
        "check", f"if kill -0 $(cat {pidfile}); then echo escapee alive; exit 1; fi", "depends_on: [escape]\n    "
    )
    try:
        process = _run(_workflow(tmp_path, token, tasks))
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, out + err
        assert not _alive(int(pidfile.read_text()))
    finally:
        _kill_all(token)


def test_a_double_forked_daemon_is_killed_at_attempt_end(tmp_path: Path) -> None:
    token, pidfile = _token(), tmp_path / "daemon.pid"
    script = tmp_path / "daemon.py"
    script.write_text(DAEMON)
    tasks = _shell("daemonise", f"{sys.executable} {script} {pidfile}; {_wait_for_file(pidfile)}")
    try:
        process = _run(_workflow(tmp_path, token, tasks))
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, out + err
        assert not _alive(int(pidfile.read_text()))
        assert _gone_soon(token, 0) == []
    finally:
        _kill_all(token)


def test_cancel_kills_the_escaped_children_of_running_tasks(tmp_path: Path) -> None:
    token, pidfile = _token(), tmp_path / "escapee.pid"
    tasks = _shell("escape", f"{ESCAPE.format(pidfile=pidfile)} {_wait_for_file(pidfile)}; sleep 60")
    process = _run(_workflow(tmp_path, token, tasks))
    try:
        _events_until(process, "task_started")
        deadline = time.monotonic() + 20
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
        assert process.returncode == 130
        assert not _alive(int(pidfile.read_text()))
        assert _gone_soon(token, 0) == []
    finally:
        if process.poll() is None:
            process.kill()
        _kill_all(token)


def test_kill_9_of_the_runner_leaves_no_task_process_and_no_side_effect(tmp_path: Path) -> None:
    """Group members, a setsid escapee and a busy worker process all die with the runner."""
    token, marker, go = _token(), tmp_path / "side-effect", tmp_path / "go"
    # The side effect waits for a file the test makes only after the kill, not for a time a
    # loaded machine may pass before the kill (CI saw that once under heavy load).
    late = f"while [ ! -f {go} ]; do sleep 0.05; done; touch {marker}"
    tasks = (
        _shell("in_group", f"({late}) & sleep 60")
        + _shell("escaped", f"setsid sh -c '{late}' & sleep 60")
        + "  - name: busy\n    type: python\n    config: {callable: 'time:sleep', args: [60], isolation: process}\n"
    )
    process = _run(_workflow(tmp_path, token, tasks), "--concurrency", "3")
    workers: list[int] = []
    try:
        _events_until(process, "task_started", 3)
        deadline = time.monotonic() + 20
        while len(processes_with_env(token)) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        while not _children_running(process.pid, "spawn_main") and time.monotonic() < deadline:
            time.sleep(0.02)
        workers = _children_running(process.pid, "multiprocessing")  # the worker and its resource tracker
        assert _children_running(process.pid, "spawn_main"), "the process-isolated task's worker should be running"
        process.kill()
        process.wait(timeout=10)
        assert _gone_soon(token) == []
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers)
        go.touch()
        time.sleep(1.0)  # a task process still alive would see 'go' and write the marker within 0.05 s
        assert not marker.exists()
    finally:
        if process.poll() is None:
            process.kill()
        _kill_all(token)
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _children_running(parent: int, word: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and word.encode() in command:
            found.append(int(entry.name))
    return found


def test_a_resume_kills_what_a_dead_runner_left_of_the_run() -> None:
    """For a guardian that died with its runner: the resume finds the run's tagged processes."""
    from flowrunner.runner import _kill_leftovers

    run_id = uuid.uuid4().hex
    other_run = uuid.uuid4().hex
    env = dict(os.environ, FLOWRUNNER_ATTEMPT=f"999999999:{run_id}:1")
    leftover = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    unrelated = subprocess.Popen(["sleep", "60"], env=dict(env, FLOWRUNNER_ATTEMPT=f"999999999:{other_run}:1"))
    try:
        # What a dead runner left has long finished exec'ing; a process Popen just returned may
        # still be inside execve (the kernel writes its new environment last), so wait for it.
        for process in (leftover, unrelated):
            _wait_for_own_environment(process.pid)
        _kill_leftovers(run_id)
        assert leftover.wait(timeout=10) == -signal.SIGKILL
        assert unrelated.poll() is None
    finally:
        for process in (leftover, unrelated):
            process.kill()
            process.wait()


def test_a_resume_spares_the_attempts_of_a_runner_still_alive() -> None:
    """Rule: only a dead runner leaves leftovers; a second retry or resume of a run that another
    live process executes (refused by the store at its first append) kills none of its attempts."""
    from flowrunner.runner import _kill_leftovers

    run_id = uuid.uuid4().hex
    runner = subprocess.Popen(["sleep", "60"])  # stands for the live runner that owns the attempt
    attempt = subprocess.Popen(["sleep", "60"], start_new_session=True,
                               env=dict(os.environ, FLOWRUNNER_ATTEMPT=f"{runner.pid}:{run_id}:1"))  # fmt: skip
    try:
        _wait_for_own_environment(attempt.pid)
        _kill_leftovers(run_id)
        time.sleep(0.1)
        assert attempt.poll() is None
        runner.kill()
        runner.wait()  # dead and reaped: what it left is a leftover now
        _kill_leftovers(run_id)
        assert attempt.wait(timeout=10) == -signal.SIGKILL
    finally:
        for process in (runner, attempt):
            process.kill()
            process.wait()


def _wait_for_own_environment(pid: int) -> None:
    """Until /proc shows ``pid``'s environment from its exec (carrying the attempt tag)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            if b"FLOWRUNNER_ATTEMPT=" in environ.read():
                return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} never showed its environment")


@pytest.mark.parametrize("read_size", [1 << 16, 8], ids=["one read", "longer than one read"])
def test_the_sweep_lists_the_main_threads_children(read_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The listing is read again on every sweep (no stale pids) and whole past one read."""
    from flowrunner import _escapees

    monkeypatch.setattr(_escapees, "LISTING_READ", read_size)
    before = set(_escapees._adopted())
    children = [subprocess.Popen(["sleep", "60"]) for _ in range(3)]
    try:
        for _ in range(2):  # each sweep reads the listing afresh
            assert set(_escapees._adopted()) - before == {child.pid for child in children}
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert set(_escapees._adopted()) - before == set()
