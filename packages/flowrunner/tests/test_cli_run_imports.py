"""What ``flowbuilder run`` imports and builds for a plain workflow (issue 10, start-up).

A run neither annotates, nor audits, nor requests control, nor fences, and one without a
``cache:`` task uses no result cache: the stores and the runner import those modules (and
their record classes) only in the calls that need them. Each case runs
the command twice in fresh processes, the second with its caches warm, as every run after
a workflow's first.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

IMPORTED_AT_EXIT = """
import atexit, json, sys
atexit.register(lambda: print("imported:", json.dumps(sorted(m for m in sys.modules if m in {watched!r}))))
from flowbuilder.cli.main import main
main()
"""
WORKFLOW = """
name: plain
tasks:
  - {name: a, type: python, config: {callable: "builtins:len", args: [[1, 2]]}}
  - {name: b, type: shell, depends_on: [a], config: {command: "true"}}
"""
ONLY_FOR_OTHER_CALLS = {
    "flowbuilder.annotations",
    "flowbuilder.audit",
    "flowbuilder.control",
    "flowbuilder.fencing",
    "flowbuilder.caching",  # the result cache: for tasks with `cache:` only
}
NEEDED_BY_EVERY_RUN = {"flowbuilder.leases"}  # the run's lease (flowrunner._control)


def imported_by_second_run(tmp_path: Path, *store: str) -> set[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env["FLOWBUILDER_CACHE_DIR"] = str(tmp_path / "cache")
    (tmp_path / "plain.yaml").write_text(WORKFLOW)
    script = IMPORTED_AT_EXIT.format(watched=ONLY_FOR_OTHER_CALLS | NEEDED_BY_EVERY_RUN)
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", script, "run", "plain.yaml", *store], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "succeeded" in done.stdout + done.stderr
    return set(json.loads(done.stdout.split("imported:", 1)[1]))


def test_a_run_on_a_memory_store_imports_no_annotation_audit_control_fence_or_cache_module(tmp_path: Path) -> None:
    assert imported_by_second_run(tmp_path, "--store", "memory://") == NEEDED_BY_EVERY_RUN


@pytest.mark.skipif(importlib.util.find_spec("flowbuilder_storage") is None, reason="flowbuilder-storage not installed")
def test_a_run_on_the_embedded_rocksdb_store_imports_none_of_them_either(tmp_path: Path) -> None:
    assert imported_by_second_run(tmp_path, "--store", f"rocksdb://{tmp_path / 'store'}") == NEEDED_BY_EVERY_RUN


def test_python_tasks_left_without_args_share_one_empty_list_and_dict(tmp_path: Path) -> None:
    """The reason the ``python`` type's ``args`` keeps ``default_factory=list`` although pydantic
    tokenizes ``list``'s text signature when it builds the model (about 1-2 ms per process, tried
    and reverted, bench/README.md "startup-imports"): core shares the empty containers of fields
    whose factory is ``list`` or ``dict`` (flowbuilder._model_sharing), not of a lambda's."""
    from flowbuilder import build_plugin_host, load_plan

    (tmp_path / "two.yaml").write_text(
        "name: two\ntasks:\n"
        '  - {name: a, type: python, config: {callable: "builtins:len"}}\n'
        '  - {name: b, type: python, config: {callable: "builtins:abs"}}\n'
    )
    plan = load_plan(tmp_path / "two.yaml", build_plugin_host())
    first, second = plan.configs
    assert first.args == [] and first.kwargs == {}
    assert first.args is second.args and first.kwargs is second.kwargs
