"""``lock:`` across real ``flowbuilder run`` processes on one store (RocksDB, Redis).

Each holder's task appends ``start``/``end`` wall-clock instants and its fencing token
(``FLOWBUILDER_LOCK_TOKEN``) to a file of the test; the assertions are about those intervals
(disjoint) and tokens (greater for the later holder), never about how fast anything ran.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import pytest

from flowbuilder_contracts.redis_server import RedisServer

LOG_COMMAND = (
    'echo "start $(date +%s.%N) $FLOWBUILDER_LOCK_TOKEN" >> {log}; sleep {seconds};'
    ' echo "end $(date +%s.%N) $FLOWBUILDER_LOCK_TOKEN" >> {log}'
)
WAIT_SECONDS = 60.0


def _workflow(directory: Path, seconds: float, ttl: str = "30s", name: str = "deploy.yaml") -> Path:
    log = directory / "holders.log"
    command = LOG_COMMAND.format(log=log, seconds=seconds)
    path = directory / name
    path.write_text(
        "name: deploy\ntasks:\n  - name: deploy\n    type: shell\n"
        f"    lock: {{name: deploy-prod, ttl: {ttl}}}\n    config:\n      command: {json.dumps(command)}\n"
    )
    return path


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("flowbuilder")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}


def _start(cwd: Path, store: str, workflow: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*_cli(), "run", "--json", "--store", store, str(workflow)], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)  # fmt: skip


def _run_id(stream: IO[str]) -> str:
    line = stream.readline()
    assert line, "the run printed nothing"
    return str(json.loads(line)["run_id"])


def _holdings(directory: Path) -> list[dict[str, Any]]:
    """Each holder's ``{token, start, end}`` from the log (``end`` None when it never ended)."""
    found: dict[int, dict[str, Any]] = {}
    log = directory / "holders.log"
    for line in log.read_text().splitlines() if log.exists() else []:
        what, instant, token = line.split()
        found.setdefault(int(token), {"token": int(token), "start": None, "end": None})[what] = float(instant)
    return sorted(found.values(), key=lambda holding: holding["start"])


def _until(condition: Any, what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return process.returncode, err


def test_two_runs_holding_one_lock_never_overlap(scratch_dir: Path, store_url: str) -> None:
    workflow = _workflow(scratch_dir, seconds=1)
    runs = [_start(scratch_dir, store_url, workflow) for _ in range(2)]
    for process in runs:
        code, err = _finish(process)
        assert code == 0, err
    first, second = _holdings(scratch_dir)
    assert first["end"] <= second["start"], f"two holders at once: {first} {second}"
    assert second["token"] > first["token"]


def test_a_killed_holders_lock_is_taken_after_its_ttl_with_a_greater_token(scratch_dir: Path, store_url: str) -> None:
    holder = _start(scratch_dir, store_url, _workflow(scratch_dir, seconds=300, ttl="2s"))
    try:
        _until(lambda: _holdings(scratch_dir), "the first holder to start")
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # the runner and its task: nothing renews, nothing releases
        holder.communicate(timeout=WAIT_SECONDS)
    killed = time.time()
    waiter = _start(scratch_dir, store_url, _workflow(scratch_dir, seconds=0, name="again.yaml"))
    code, err = _finish(waiter)
    assert code == 0, err
    dead, taker = _holdings(scratch_dir)
    assert dead["end"] is None
    assert taker["token"] > dead["token"]
    assert taker["start"] >= killed - 0.1, "the lock was taken while its holder lived"


def test_a_run_waiting_for_a_lock_can_be_cancelled_and_takes_nothing(scratch_dir: Path, store_url: str) -> None:
    holder = _start(scratch_dir, store_url, _workflow(scratch_dir, seconds=3))
    _until(lambda: _holdings(scratch_dir), "the holder to start")
    waiter = _start(scratch_dir, store_url, _workflow(scratch_dir, seconds=0, name="waiter.yaml"))
    assert waiter.stdout is not None
    waiting_run = _run_id(waiter.stdout)
    cancel = subprocess.run([*_cli(), "cancel", "--store", store_url, waiting_run], cwd=scratch_dir, env=_env(),
                            capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)  # fmt: skip
    assert cancel.returncode == 0, cancel.stderr
    code, _ = _finish(waiter)
    assert code == 130
    code, err = _finish(holder)
    assert code == 0, err
    after = subprocess.run([*_cli(), "run", "--store", store_url, str(_workflow(scratch_dir, 0, name="after.yaml"))],
                           cwd=scratch_dir, env=_env(), capture_output=True, text=True, timeout=WAIT_SECONDS,
                           check=False)  # fmt: skip
    assert after.returncode == 0, after.stderr
    holdings = _holdings(scratch_dir)
    assert [holding["token"] for holding in holdings] == [1, 2], "the cancelled run took a token"
    assert holdings[0]["end"] is not None and holdings[0]["end"] <= holdings[1]["start"]
    shown = subprocess.run([*_cli(), "runs", "show", "--store", store_url, waiting_run], cwd=scratch_dir, env=_env(),
                           capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)  # fmt: skip
    assert "cancelled" in shown.stdout and "fencing token" not in shown.stdout


def test_runs_show_names_the_lock_and_its_token(scratch_dir: Path, store_url: str) -> None:
    done = subprocess.run([*_cli(), "run", "--store", store_url, str(_workflow(scratch_dir, 0))], cwd=scratch_dir,
                          env=_env(), capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[1].rstrip(":")
    shown = subprocess.run([*_cli(), "runs", "show", "--store", store_url, run_id], cwd=scratch_dir, env=_env(),
                           capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)  # fmt: skip
    assert "lock    deploy-prod (fencing token 1)" in shown.stdout, shown.stdout


def test_a_dead_redis_fails_a_waiting_run_with_one_line(scratch_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "redis"
    directory.mkdir()
    redis = RedisServer(directory).start()
    holder = waiter = None
    store = f"{redis.url}?retry_seconds=3"  # the default (30 s) only makes the test wait longer for the same line
    try:
        holder = _start(scratch_dir, store, _workflow(scratch_dir, seconds=300))
        _until(lambda: _holdings(scratch_dir), "the holder to start")
        waiter = _start(scratch_dir, store, _workflow(scratch_dir, seconds=0, name="waiter.yaml"))
        assert waiter.stdout is not None
        _run_id(waiter.stdout)
        redis.stop()
        code, err = _finish(waiter)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code not in (0, 70), err
        assert "Traceback" not in err, err
        assert len(lines) == 1 and "redis" in lines[0].lower(), err
    finally:
        for process in (holder, waiter):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
        redis.stop()


@pytest.mark.parametrize(
    ("lock", "message"),
    [
        ("'has space'", "lock.name: a lock name is"),
        ("{name: x, ttl: 0.1}", "lock.ttl"),
        ("{ttl: 3s}", "required field 'name'"),
        ("[a, b]", "lock must be a name"),
        ("'deploy-${{ params.nope }}'", "unknown param 'nope'"),
        ("'x-${{ secrets.TOKEN }}'", "a lock name cannot hold a secret"),
    ],
)
def test_a_bad_lock_is_a_located_error(scratch_dir: Path, lock: str, message: str) -> None:
    path = scratch_dir / "bad.yaml"
    path.write_text(
        f"name: bad\ntasks:\n  - name: t\n    type: shell\n    lock: {lock}\n    config: {{command: 'true'}}\n"
    )
    result = subprocess.run([*_cli(), "validate", str(path)], cwd=scratch_dir, env=_env(), capture_output=True,
                            text=True, timeout=WAIT_SECONDS, check=False)  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "bad.yaml:5" in result.stdout + result.stderr, result.stdout + result.stderr
    assert message in result.stdout + result.stderr


def test_a_holder_stopped_past_its_ttl_loses_the_lock_and_its_attempt_fails(scratch_dir: Path,
                                                                            redis_server: str) -> None:  # fmt: skip
    holder = _start(scratch_dir, redis_server, _workflow(scratch_dir, seconds=60, ttl="1s"))
    waiter = None
    try:
        assert holder.stdout is not None
        holder_run = _run_id(holder.stdout)
        _until(lambda: _holdings(scratch_dir), "the holder to start")
        os.kill(holder.pid, signal.SIGSTOP)  # the runner only: its task goes on, nothing renews its lease
        try:
            waiter = _start(scratch_dir, redis_server, _workflow(scratch_dir, seconds=2, name="waiter.yaml"))
            _until(lambda: len(_holdings(scratch_dir)) == 2, "the waiter to take the expired lock")
        finally:
            os.kill(holder.pid, signal.SIGCONT)
        code, err = _finish(holder)
        assert code == 1, err
        code, err = _finish(waiter)
        assert code == 0, err
    finally:
        for process in (holder, waiter):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
    stopped, taker = _holdings(scratch_dir)
    assert taker["token"] > stopped["token"]
    assert stopped["end"] is None, "the stopped holder's attempt went on after it learnt it lost the lock"
    shown = subprocess.run([*_cli(), "runs", "show", "--store", redis_server, holder_run], cwd=scratch_dir,
                           env=_env(), capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)  # fmt: skip
    assert "lost lock 'deploy-prod' (token 1)" in shown.stdout, shown.stdout
