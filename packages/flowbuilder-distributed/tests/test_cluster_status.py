"""``flowbuilder cluster status``: the registry as a table and as JSON, live and dead workers."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from worker_processes import WorkerProcesses, run_cli_process


def test_status_shows_each_worker_with_labels_group_load_and_health_and_a_killed_one_turns_dead(
    scratch: Path, workers: WorkerProcesses
) -> None:
    doomed = workers.start("--labels", "linux,gpu", "--group", "gpus", "--heartbeat", "0.2", concurrency=3)
    workers.start("--heartbeat", "0.2")
    workers.wait_registered(2)

    listed = json.loads(run_cli_process(scratch, "cluster", "status", "--store", workers.url, "--json").stdout)
    by_group = {node["group"]: node for node in listed["nodes"]}
    gpu = by_group["gpus"]
    assert (gpu["kind"], gpu["labels"], gpu["capacity"], gpu["running"], gpu["health"]) == (
        "worker", ["gpu", "linux"], 3, 0, "alive")  # fmt: skip
    assert gpu["pid"] == doomed.pid and 0 <= gpu["load"] <= 1

    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    time.sleep(4.0)
    table = run_cli_process(scratch, "cluster", "status", "--store", workers.url, "--dead-after", "3").stdout
    gpu_line = next(line for line in table.splitlines() if "gpus" in line)
    assert "dead" in gpu_line and "gpu,linux" in gpu_line
    assert table.strip().endswith("2 node(s), 1 alive")


def test_a_worker_that_stops_on_sigterm_leaves_the_registry(scratch: Path, workers: WorkerProcesses) -> None:
    leaving = workers.start()
    workers.wait_registered(1)
    leaving.send_signal(signal.SIGTERM)
    assert leaving.wait(timeout=30) == 0
    shown = run_cli_process(scratch, "cluster", "status", "--store", workers.url)
    assert shown.returncode == 0 and shown.stdout.strip() == "no nodes registered"


@pytest.mark.parametrize("url", ["redis://:hunter2@[::1", "redis://:hunter2@host:port/0"])
def test_a_redis_url_that_cannot_be_read_is_one_line_without_its_password(scratch: Path, url: str) -> None:
    """``urlsplit`` refuses these ("Invalid IPv6 URL", a port that is no number); each command
    once exited 70 on them, and a password in such a URL reached the message."""
    flow = scratch / "flow.yaml"
    flow.write_text("name: f\ntasks:\n  - {name: t, type: shell, config: {command: 'true'}}\n")
    for command in (["worker", "--store", url], ["cluster", "status", "--store", url],
                    ["cluster", "send", "--bus", url, "n1", "{}"],
                    ["run", str(flow), "--store", "memory://", "--workers", url]):  # fmt: skip
        done = run_cli_process(scratch, *command, timeout=60)
        assert done.returncode == 1, (command, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "***@" in done.stderr, (command, done.stderr)
        assert "hunter2" not in done.stderr, (command, done.stderr)


@pytest.mark.parametrize("option", ["--lease", "--heartbeat", "--drain-timeout", "--dead-after"])
def test_a_nan_number_of_seconds_is_a_usage_error(scratch: Path, option: str) -> None:
    """``click.FloatRange`` lets NaN through: ``worker --lease nan`` exited 70, ``--heartbeat nan``
    heartbeat in a busy loop (never exiting), ``cluster status --dead-after nan`` blamed the registry."""
    command = ["cluster", "status"] if option == "--dead-after" else ["worker"]
    done = run_cli_process(scratch, *command, "--store", "redis://127.0.0.1:1/0", option, "nan", timeout=30)
    assert done.returncode == 2 and "is not a finite number" in done.stderr, done.stderr


def test_a_worker_whose_queue_index_is_not_a_set_says_redis_refused_not_lost(scratch: Path, redis_url: str) -> None:
    """A WRONGTYPE reply was reported as "lost the workers' Redis": the server was there."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.set("flowbuilder:workers:default:queues", "not a set")
    finally:
        client.close()
    done = run_cli_process(scratch, "worker", "--store", redis_url, timeout=60)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "refused a command" in last and "WRONGTYPE" in last and "lost" not in last, done.stderr
