"""``flowbuilder run --workers dask://HOST:PORT`` end to end, against a real LocalCluster on 127.0.0.1.

The run is a real CLI process; its ``isolation: process`` tasks run in the cluster's worker
processes (their pids prove it), everything else stays in the runner. Waits are bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from dask_cluster import local_cluster, where_am_i
from remote_runs import finish, start_run, stored_history, successes_per_task, write_workflow
from worker_processes import CLI, cli_environment

from flowbuilder_contracts.redis_server import free_port


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    yield from local_cluster()


@pytest.fixture
def dask_url(dask_cluster: Any) -> str:
    return dask_cluster.scheduler_address.replace("tcp://", "dask://")


def worker_pids(cluster: Any) -> set[int]:
    from distributed import Client

    with Client(cluster.scheduler_address, timeout=20, set_as_default=False) as client:
        return set(client.run(where_am_i).values())


def store_of(scratch: Path) -> str:
    return f"rocksdb://{scratch / 'runs.db'}"


def on_dask(name: str, function: str, **config: Any) -> dict[str, Any]:
    return {"name": name, "type": "python",
            "config": {"callable": f"dask_tasks:{function}", "isolation": "process", **config}}  # fmt: skip


def test_a_fan_out_of_process_tasks_runs_on_the_dask_workers_and_each_task_is_recorded_once(
    scratch: Path, dask_cluster: Any, dask_url: str
) -> None:
    fan_out = [on_dask(f"item{i}", "where_it_ran", args=[i], pass_context=True) for i in range(12)]
    local = {"name": "after", "type": "shell", "depends_on": [task["name"] for task in fan_out],
             "config": {"command": "echo $PPID"}}  # fmt: skip
    flow = write_workflow(scratch, "fan", [*fan_out, local])

    run = start_run(scratch, flow, dask_url, store_of(scratch))
    code, events, err = finish(run)

    assert code == 0, err
    history = stored_history(store_of(scratch), events[0]["run_id"])
    assert successes_per_task(history) == {task["name"]: 1 for task in [*fan_out, local]}
    ran_on = {event.data["output"]["pid"] for event in history
              if event.kind.value == "task_succeeded" and event.task.startswith("item")}  # fmt: skip
    assert ran_on <= worker_pids(dask_cluster), "every process task ran in a Dask worker process"
    assert run.pid not in ran_on and os.getpid() not in ran_on
    logs = subprocess.run([*CLI, "logs", events[0]["run_id"], "item3", "--store", store_of(scratch)], cwd=scratch,
                          env=cli_environment(scratch), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "item 3 on pid" in logs.stdout, "the line the task logged on the Dask worker is in the run's log"


def test_a_task_raising_on_dask_fails_with_its_message_a_classified_failure_keeps_its_fields_and_an_unsendable_output_fails(
    scratch: Path, dask_url: str
) -> None:
    flow = write_workflow(scratch, "raising", [
        on_dask("plain", "raise_value_error", args=["the input was empty"]),
        on_dask("classified", "fail_classified"),
        on_dask("unpicklable", "return_a_lock"),
    ])  # fmt: skip

    code, events, err = finish(start_run(scratch, flow, dask_url, store_of(scratch)))

    assert code not in (0, 70), err
    assert "Traceback" not in err
    history = stored_history(store_of(scratch), events[0]["run_id"])
    failed = {event.task: event.data for event in history if event.kind.value == "task_failed"}
    assert "ValueError: the input was empty" in failed["plain"]["error"]
    assert "the service said no" in failed["classified"]["error"]
    assert failed["classified"].get("exit_code") == 4
    assert "the output cannot be sent back from the Dask worker" in failed["unpicklable"]["error"]


def test_a_dead_scheduler_address_is_a_one_line_error_with_a_non_zero_exit(scratch: Path) -> None:
    flow = write_workflow(scratch, "nowhere", [on_dask("t", "raise_value_error", args=["never runs"])])
    dead = f"dask://127.0.0.1:{free_port()}"
    env = {**cli_environment(scratch), "FLOWBUILDER_DASK__CONNECT_TIMEOUT": "2"}

    done = subprocess.run([*CLI, "run", str(flow), "--store", store_of(scratch), "--workers", dead], cwd=scratch,
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip

    assert done.returncode not in (0, 70), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:" in lines[0], done.stderr


def test_a_scheduler_killed_mid_run_fails_the_attempt_with_a_one_line_reason_and_no_traceback(scratch: Path) -> None:
    pytest.importorskip("distributed", reason="Dask's distributed is not installed")
    marks = scratch / "cluster.out"
    with marks.open("w") as out:
        cluster = subprocess.Popen([sys.executable, str(Path(__file__).parent / "dask_cluster_process.py")],
                                   stdout=out, stderr=subprocess.DEVNULL, cwd=scratch, env=cli_environment(scratch),
                                   start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marks.read_text().strip():
            assert time.monotonic() < deadline and cluster.poll() is None, "the LocalCluster did not start"
            time.sleep(0.1)
        url = marks.read_text().strip().replace("tcp://", "dask://")
        running = scratch / "running"
        flow = write_workflow(scratch, "doomed", [on_dask("long", "mark_then_sleep", args=[str(running), 30])])
        run = start_run(scratch, flow, url, store_of(scratch))
        while not running.exists():
            assert time.monotonic() < deadline + 60 and run.poll() is None, "the attempt never started on the cluster"
            time.sleep(0.1)
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(timeout=10)

        code, events, err = finish(run, within=60)
    finally:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=10)

    assert code not in (0, 70), err
    assert "Traceback" not in err, err
    history = stored_history(store_of(scratch), events[0]["run_id"])
    (failed,) = [event.data for event in history if event.kind.value == "task_failed"]
    assert "connection to its scheduler was lost" in failed["error"]
