"""Helpers for the end-to-end tests: write a workflow, start a run with ``--workers``, read its history."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from worker_processes import CLI, cli_environment


def write_workflow(folder: Path, name: str, tasks: list[dict[str, Any]]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "tasks": tasks}, sort_keys=False))
    return path


def python_task(name: str, function: str, *, isolation: str = "thread", **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"callable": f"remote_tasks:{function}", "isolation": isolation}
    for key in ("args", "kwargs"):
        if key in extra:
            config[key] = extra.pop(key)
    return {"name": name, "type": "python", "config": config, **extra}


def start_run(scratch: Path, workflow: Path, workers_url: str, store_url: str,
              env: dict[str, str] | None = None) -> subprocess.Popen[str]:  # fmt: skip
    """``flowbuilder run --json --workers URL`` in the background.

    Its events and errors go to files in ``scratch``, not pipes: a test that does something
    else while the run goes on must not block the run on a full pipe.
    """
    out = (scratch / f"{workflow.stem}.events").open("w")
    err = (scratch / f"{workflow.stem}.stderr").open("w")
    with out, err:
        return subprocess.Popen([*CLI, "run", str(workflow), "--json", "--store", store_url, "--workers", workers_url],
                                cwd=scratch, env={**cli_environment(scratch), **(env or {})}, stdout=out, stderr=err,
                                text=True)  # fmt: skip


def finish(run: subprocess.Popen[str], within: float = 120) -> tuple[int, list[dict[str, Any]], str]:
    """Wait for a run started by :func:`start_run`: its exit code, its events, its stderr."""
    command = list(run.args)  # type: ignore[arg-type]
    workflow = Path(command[command.index("run") + 1])
    try:
        run.wait(timeout=within)
    except subprocess.TimeoutExpired:
        run.kill()
        run.wait()
        raise AssertionError(f"the run did not finish within {within:g}s") from None
    scratch = workflow.parent
    out = (scratch / f"{workflow.stem}.events").read_text()
    err = (scratch / f"{workflow.stem}.stderr").read_text()
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return run.returncode, events, err


def stored_history(store_url: str, run_id: str) -> list[Any]:
    """The run's events as the store holds them (not as the CLI printed them)."""
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    host = build_plugin_host(Settings())
    with host.open_store(store_url, create=False) as store:
        return list(store.read_events(run_id))


def successes_per_task(history: list[Any]) -> Counter[str]:
    return Counter(event.task for event in history if event.kind.value == "task_succeeded")
