"""``flowbuilder runs show --timing`` (and ``--json``) through real processes on RocksDB (issue 10).

A run whose tasks queue behind a one-slot pool shows the pool as the cause of its queue
wait; a run recorded without timing (as a runner before 0.2 wrote it) shows one clear
"no timing recorded" line instead of failing. No test asserts how long anything took.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

POOLED = """\
name: pooled
concurrency: 8
pools: {narrow: 1}
tasks:
""" + "".join(f"  - {{name: p{i}, type: shell, pool: narrow, config: {{command: 'sleep 0.1'}}}}\n" for i in range(4))


def _run_id(stdout: str) -> str:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return str(events[0]["run_id"])


def test_runs_show_timing_names_the_pool_as_the_cause(scratch_dir: Path, run_cli: Callable[..., Any]) -> None:
    store = f"rocksdb://{scratch_dir / 'store'}"
    (scratch_dir / "pooled.yaml").write_text(POOLED)
    ran = run_cli("run", "--json", "--store", store, "pooled.yaml")
    assert ran.returncode == 0, ran.stderr
    run_id = _run_id(ran.stdout)

    shown = run_cli("runs", "show", run_id, "--store", store, "--timing")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    for label in ("run, start to finish", "compile (load, validate, plan)", "dispatch (scheduler's own work)",
                  "store writes", "event sinks", "task bodies", "queue wait (ready, not started)", "pool full"):  # fmt: skip
        assert label in text, label
    assert "most of the queue wait: pool full" in text
    assert "TASK" not in text  # --timing shows the breakdown instead of the task list

    as_json = run_cli("runs", "show", run_id, "--store", store, "--json")
    assert as_json.returncode == 0, as_json.stderr
    timing = json.loads(as_json.stdout)["timing"]
    assert timing["attempts"] == 4
    assert timing["compile"] is not None and timing["compile"] > 0
    queue = timing["queue_wait"]
    assert queue["pool"] > 0 and queue["pool"] >= queue["concurrency"]
    engine = timing["dispatch"] + timing["store_writes"] + timing["sinks"] + timing["inline_bodies"]
    assert engine <= timing["total"]


def test_a_run_recorded_without_timing_says_so(scratch_dir: Path, run_cli: Callable[..., Any]) -> None:
    from flowbuilder.events import EventKind, RunEvent
    from flowbuilder.plugins import build_plugin_host

    store_url = f"rocksdb://{scratch_dir / 'old'}"
    run_id = "old-run-without-timing"
    events = [
        RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "old", "version": "1", "params": {}}),
        RunEvent(run_id, 2, EventKind.RUN_STARTED, data={"runner": "local", "resumed": False}),
        RunEvent(run_id, 3, EventKind.TASK_STARTED, "a", 1),
        RunEvent(run_id, 4, EventKind.TASK_SUCCEEDED, "a", 1, {"output": None, "duration": 0.1}),
        RunEvent(run_id, 5, EventKind.RUN_FINISHED, data={"status": "succeeded"}),  # as 0.1 recorded it
    ]
    with build_plugin_host().open_store(store_url) as store:
        store.append_events(run_id, events, 0)

    shown = run_cli("runs", "show", run_id, "--store", store_url, "--timing")
    assert shown.returncode == 0, shown.stderr
    assert "no timing recorded" in shown.stdout
    assert "Traceback" not in shown.stderr

    as_json = run_cli("runs", "show", run_id, "--store", store_url, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["timing"] is None
