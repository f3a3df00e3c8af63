"""Resume after a real crash: a ``flowbuilder run`` SIGKILLed while a task runs, then ``flowbuilder resume``.

The run is killed once a task has written its marker file (so its ``task_started`` is
recorded and its attempt is in flight); the test waits a little before resuming, so the
run is down for a while, as after a real crash.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RocksDBStore

CLI = str(Path(sys.executable).with_name("flowbuilder"))
DOWNTIME = 1.0
"""Seconds between the kill and the resume (the assertions compare recorded times, never this)."""


def cli(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(directory), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([CLI, *args], capture_output=True, text=True, cwd=directory, env=env, timeout=120)


def run_and_kill_when(directory: Path, workflow: Path, store: str, ready: Callable[[], bool]) -> str:
    """Start ``flowbuilder run``, SIGKILL it (and its process group) once ``ready()``; the run id."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(directory), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([CLI, "run", str(workflow), "--store", store], cwd=directory, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, f"the run ended before it could be killed: {process.communicate()[1]}"
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    time.sleep(DOWNTIME)
    listing = json.loads(cli(directory, "runs", "list", "--json", "--store", store).stdout)
    [run] = listing["runs"]
    assert run["status"] == "interrupted"  # recorded running, its runner gone: read as interrupted
    return str(run["run_id"])


def last_event_is(store: str, kind: EventKind) -> Callable[[], bool]:
    """Whether the newest event of the store's only run is ``kind`` (read through the store's owner)."""

    def check() -> bool:
        with RocksDBStore.open(store) as opened:
            runs = opened.list_runs().runs
            return bool(runs) and opened.read_events(runs[0].run_id)[-1].kind is kind

    return check


def events_of(store: str, run_id: str) -> list[RunEvent]:
    with RocksDBStore.open(store) as opened:
        return opened.read_events(run_id)


def shown_task(directory: Path, store: str, run_id: str, task: str) -> dict[str, Any]:
    shown = json.loads(cli(directory, "runs", "show", run_id, "--json", "--store", store).stdout)
    return dict(shown["state"]["tasks"][task])


# -- bookkeeping ------------------------------------------------------------------------------


def test_a_task_run_again_after_a_crash_continues_its_attempt_numbers_and_its_time_excludes_the_downtime(
        tmp_path: Path) -> None:  # fmt: skip
    """The re-run is attempt 2 (not a second attempt 1); its recorded times start at the resume."""
    store = f"rocksdb://{tmp_path}/store"
    marker = tmp_path / "slow-started"
    workflow = tmp_path / "bookkeeping.yaml"
    workflow.write_text(
        "name: bookkeeping\n"
        "tasks:\n"
        "  - {name: first, type: shell, config: {command: 'true'}}\n"
        f"  - {{name: slow, type: shell, depends_on: [first], config: {{command: 'touch {marker}; sleep 0.5'}}}}\n"
    )
    run_id = run_and_kill_when(tmp_path, workflow, store, marker.exists)

    resumed = cli(tmp_path, "resume", run_id, "--store", store)
    assert resumed.returncode == 0, resumed.stderr

    events = events_of(store, run_id)
    assert [e.attempt for e in events if e.kind is EventKind.TASK_STARTED and e.task == "slow"] == [1, 2]
    resumed_at = next(e.time for e in events if e.kind is EventKind.RUN_STARTED and e.data.get("resumed"))
    success = next(e for e in events if e.kind is EventKind.TASK_SUCCEEDED and e.task == "slow")
    assert success.attempt == 2
    assert 0.5 <= success.data["duration"] <= success.time - resumed_at, "duration counts only the re-run"
    slow = shown_task(tmp_path, store, run_id, "slow")
    assert slow["attempts"] == 2
    assert slow["started_at"] >= resumed_at, "`runs show` times the task from its re-run, not across the downtime"


def test_a_task_waiting_for_its_retry_at_the_crash_resumes_with_the_next_attempt(tmp_path: Path) -> None:
    """Attempt 1 failed and its retry was pending when the process died: the resume runs attempt 2."""
    store = f"rocksdb://{tmp_path}/store"
    marker = tmp_path / "failed-once"
    workflow = tmp_path / "retrying.yaml"
    workflow.write_text(
        "name: retrying\n"
        "tasks:\n"
        "  - name: flaky\n"
        "    type: shell\n"
        "    retry: {attempts: 3, backoff: 60}\n"
        f"    config: {{command: 'if [ -e {marker} ]; then echo ok; else touch {marker}; exit 3; fi'}}\n"
    )
    run_id = run_and_kill_when(tmp_path, workflow, store, last_event_is(store, EventKind.TASK_RETRYING))

    resumed = cli(tmp_path, "resume", run_id, "--store", store)
    assert resumed.returncode == 0, resumed.stderr
    events = events_of(store, run_id)
    assert [(e.kind.value, e.attempt) for e in events if e.task == "flaky"] == [
        ("task_started", 1), ("task_retrying", 1), ("task_started", 2), ("task_succeeded", 2)]  # fmt: skip


# -- tables -----------------------------------------------------------------------------------

TABLE_TASKS = '''"""Callables of the resume-with-tables test."""

import polars as pl
import pyarrow as pa


def make_polars():
    return pl.DataFrame({"city": ["Oslo", "Lima", "Pune"], "rain_mm": [763.0, 16.0, 722.5]})


def make_arrow():
    return pa.table({"city": ["Oslo", "Lima", "Pune"], "rain_mm": [763.0, 16.0, 722.5]})


def wet_cities(frame):
    return sorted(frame.filter(pl.col("rain_mm") > 100)["city"].to_list())


def wet_cities_arrow(table):
    import pyarrow.compute as pc

    return sorted(table.filter(pc.greater(table["rain_mm"], 100)).column("city").to_pylist())
'''


@pytest.mark.parametrize(("make", "use"), [("make_polars", "wet_cities"), ("make_arrow", "wet_cities_arrow")])
def test_a_resumed_run_hands_dependents_the_table_a_finished_task_produced(tmp_path: Path, make: str,
                                                                          use: str) -> None:  # fmt: skip
    """The stored Arrow IPC blob is read back as the same kind of table, not handed on as its reference."""
    (tmp_path / "resume_tables.py").write_text(TABLE_TASKS)
    store = f"rocksdb://{tmp_path}/store"
    marker = tmp_path / "gate-started"
    workflow = tmp_path / "tables.yaml"
    workflow.write_text(
        "name: tables\n"
        "tasks:\n"
        f"  - {{name: rain, type: python, config: {{callable: 'resume_tables:{make}'}}}}\n"
        f"  - {{name: gate, type: shell, depends_on: [rain], config: {{command: 'touch {marker}; sleep 0.2'}}}}\n"
        "  - name: wet\n"
        "    type: python\n"
        "    depends_on: [gate]\n"
        f"    config: {{callable: 'resume_tables:{use}', args: ['${{{{ tasks.rain.output }}}}']}}\n"
    )
    run_id = run_and_kill_when(tmp_path, workflow, store, marker.exists)

    resumed = cli(tmp_path, "resume", run_id, "--store", store)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    wet = next(e for e in events_of(store, run_id) if e.kind is EventKind.TASK_SUCCEEDED and e.task == "wet")
    assert wet.data["output"] == ["Oslo", "Pune"]
