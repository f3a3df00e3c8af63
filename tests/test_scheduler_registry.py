"""Schedulers in the node registry: ``flowbuilder scheduler --registry`` as an operator runs it.

Real processes on 127.0.0.1: two ``flowbuilder scheduler`` processes (store consensus over a
Redis store of the test's own) announce themselves in that Redis; ``flowbuilder cluster
status`` must show which leads, which stands by, that a killed one died, and that one stopped
on purpose left. Every process is stopped by PID when the test ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

WAIT = 60.0
"""Generous: the machine is shared and under load."""
CLI = [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def write_workflow(folder: Path) -> Path:
    path = folder / "ticks.yaml"
    path.write_text("name: ticks\nschedule: {every: 30s, catchup: none}\ntasks:\n"
                    "  - name: stamp\n    type: shell\n    config: {command: 'echo tick'}\n", encoding="utf-8")  # fmt: skip
    return path


@pytest.fixture
def start_scheduler(scratch_dir: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (scratch_dir / f"scheduler-{len(started)}.log").open("wb")
        with log:
            process = subprocess.Popen([*CLI, "scheduler", *args], cwd=scratch_dir, env={**environment, **(env or {})},
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT)


def status(run_cli: Callable[..., Any], url: str, *options: str) -> dict[int, dict[str, Any]]:
    """The registry's nodes by pid (``cluster status --json``)."""
    done = run_cli("cluster", "status", "--store", url, "--json", *options)
    assert done.returncode == 0, done.stderr
    return {node["pid"]: node for node in json.loads(done.stdout)["nodes"]}


def wait_until(check: Callable[[], bool], what: str, within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not within {within:g}s: {what}"
        time.sleep(0.1)


def test_the_registry_shows_the_leader_and_the_standby_a_killed_one_dies_and_a_stopped_one_leaves(
    scratch_dir: Path, redis_server: str, run_cli: Callable[..., Any], start_scheduler: Callable[..., Any]
) -> None:
    workflow = write_workflow(scratch_dir)
    common = (str(workflow), "--store", redis_server, "--consensus", "store", "--lease-seconds", "1",
              "--registry", redis_server, "--heartbeat", "0.2")  # fmt: skip
    first = start_scheduler(*common)
    second = start_scheduler(*common)

    def two_roles() -> bool:
        nodes = status(run_cli, redis_server)
        return sorted(nodes.get(p.pid, {}).get("role", "") for p in (first, second)) == ["leader", "standby"]

    wait_until(two_roles, "one leader and one standby in the registry")
    nodes = status(run_cli, redis_server)
    assert {nodes[p.pid]["kind"] for p in (first, second)} == {"scheduler"}
    leader, standby = sorted((first, second), key=lambda p: nodes[p.pid]["role"])  # "leader" < "standby"

    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=WAIT)

    def failed_over() -> bool:
        nodes = status(run_cli, redis_server, "--dead-after", "1.5")
        return nodes[leader.pid]["health"] == "dead" and nodes[standby.pid]["role"] == "leader"

    wait_until(failed_over, "the killed leader shown dead and the standby shown leading")
    table = run_cli("cluster", "status", "--store", redis_server, "--dead-after", "1.5").stdout
    assert f"2 node(s), 1 alive; 2 scheduler(s), leader: {status(run_cli, redis_server)[standby.pid]['id']}" in table

    standby.send_signal(signal.SIGTERM)
    assert standby.wait(timeout=WAIT) == 0
    assert list(status(run_cli, redis_server)) == [leader.pid], "a scheduler stopped on purpose leaves the registry"


def test_the_registry_comes_from_the_environment_like_the_other_settings(
    scratch_dir: Path, redis_server: str, run_cli: Callable[..., Any], start_scheduler: Callable[..., Any]
) -> None:
    scheduler = start_scheduler(str(write_workflow(scratch_dir)), "--store", f"rocksdb://{scratch_dir / 'db'}",
                                "--consensus", "noop",
                                env={"FLOWBUILDER_REGISTRY__URL": redis_server,
                                     "FLOWBUILDER_REGISTRY__HEARTBEAT": "0.2"})  # fmt: skip
    wait_until(lambda: status(run_cli, redis_server).get(scheduler.pid, {}).get("role") == "leader",
               "the noop scheduler announced as leader")  # fmt: skip
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(timeout=WAIT) == 0


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        (("--registry", "etcd://127.0.0.1:2379"), {}, "registry URL 'etcd://127.0.0.1:2379': unknown scheme 'etcd'"),
        (("--registry", "redis://:hunter2@127.0.0.1:1/0"), {}, "cannot reach the node registry at redis://:***@"),
        ((), {"FLOWBUILDER_REGISTRY__HEARTBEAT": "often"}, "[registry] heartbeat (FLOWBUILDER_REGISTRY__HEARTBEAT)"),
    ],
)
def test_a_bad_or_dead_registry_is_one_line_and_exit_1_before_anything_runs(
    scratch_dir: Path, run_cli: Callable[..., Any], options: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    done = run_cli("scheduler", str(write_workflow(scratch_dir)), "--store", f"rocksdb://{scratch_dir / 'db'}",
                   "--consensus", "noop", *options, env=env)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr and "hunter2" not in done.stderr, done.stderr
