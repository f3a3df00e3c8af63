"""What a fresh process's first run imports (issue 10).

A run imports the machinery of a kind of task only when it has such a task: processes
(``shell``), child runs (``workflow``) and waits (``wait``, ``approval``). Each case runs in
a fresh interpreter, since what a run imports depends on what the process imported before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import asyncio, json, sys
from flowbuilder import load_plan
from flowbuilder.interfaces import RunRequest
from flowbuilder.plugins import build_plugin_host
from flowbuilder.stores.memory import MemoryStore

host = build_plugin_host()
plan = load_plan(sys.argv[1], host)
runner = host.make_runner()
store = MemoryStore.open("memory://first-run-imports")
before = set(sys.modules)
result = asyncio.run(runner.run_async(RunRequest(plan=plan, store=store)))
loaded = sorted(set(sys.modules) - before)
kinds = [event.kind.value for event in store.read_events(result.run_id)]
print(json.dumps({"status": result.status.value, "loaded_by_first_run": loaded, "kinds": kinds}))
"""

PYTHON_ONLY = """
name: inline
tasks:
  - {name: a, type: python, config: {callable: "builtins:len", args: [[1, 2]]}}
  - {name: b, type: python, depends_on: [a], config: {callable: "builtins:abs", args: [-3]}}
"""
WITH_SHELL = PYTHON_ONLY + """  - {name: c, type: shell, depends_on: [b], config: {command: "true"}}\n"""
WITH_WAIT = PYTHON_ONLY + """  - {name: c, type: wait, depends_on: [b], config: {for: 0.01s}}\n"""


MACHINERY = {"flowrunner._process", "flowrunner.tasktypes.workflow", "flowrunner.tasktypes._waiting"}


def first_run(workflow: str, tmp_path: Path) -> dict[str, object]:
    """The second of two fresh processes: the first filled the plugin manifest, with which
    the host imports only the task types the workflow uses (as every process after the first)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env["FLOWBUILDER_CACHE_DIR"] = str(tmp_path / "cache")
    for _ in range(2):
        completed = subprocess.run([sys.executable, "-c", CHILD, workflow], cwd=tmp_path, env=env,
                                   capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_first_run_of_python_tasks_imports_no_process_child_run_or_wait_machinery(tmp_path: Path) -> None:
    outcome = first_run(PYTHON_ONLY, tmp_path)
    assert outcome["status"] == "succeeded"
    loaded = set(outcome["loaded_by_first_run"])  # type: ignore[arg-type]
    assert "flowrunner._scheduler" in loaded  # what a first run imports is measured here
    assert not loaded & MACHINERY


def test_a_first_run_with_a_process_task_imports_the_process_machinery(tmp_path: Path) -> None:
    """The control case: what the python-only run skips is what a task of another kind loads."""
    outcome = first_run(WITH_SHELL, tmp_path)
    assert outcome["status"] == "succeeded"
    assert "flowrunner._process" in set(outcome["loaded_by_first_run"])  # type: ignore[arg-type]


def test_a_waiting_task_still_waits_in_the_wait_room(tmp_path: Path) -> None:
    """Its type's module was loaded when the type was built, so the run finds the wait without importing it."""
    outcome = first_run(WITH_WAIT, tmp_path)
    assert outcome["status"] == "succeeded"
    assert "task_waiting" in outcome["kinds"]  # type: ignore[operator]
