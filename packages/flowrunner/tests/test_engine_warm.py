"""``Engine.warm()`` (issue 10): after it, a fresh process's first run loads nothing more.

Each case runs in a fresh interpreter, since what a first run imports depends on what the
process imported before. The workflow uses what a typical first run loads on demand: a
``when:`` expression that needs Jinja2 (``and``: a lone comparison is read without it), a ``python`` and a ``shell`` task (the shell type's linter).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from flowrunner import Engine

CHILD = r"""
import asyncio, json, multiprocessing, sys, threading
from flowrunner import Engine

WORKFLOW = '''
name: first
params:
  n: {type: integer, default: 2}
tasks:
  - {name: a, type: python, when: "${{ params.n > 1 and params.n < 9 }}", config: {callable: "builtins:len", args: [[1, 2]]}}
  - {name: b, type: shell, depends_on: [a], config: {command: "echo $((1 + 1))"}}
'''

engine = Engine(store="memory://")
threads = threading.active_count()
if sys.argv[1] == "warm":
    engine.warm()
    engine.warm()
after_warm = {"threads": threading.active_count() - threads, "children": len(multiprocessing.active_children())}
before = set(sys.modules)

async def main():
    return await engine.run(WORKFLOW)

result = asyncio.run(main())
engine.close()
print(json.dumps({"status": result.status.value, "outputs": [result.output("a"), result.output("b")],
                  "loaded_by_first_run": sorted(set(sys.modules) - before), **after_warm}))
"""


def first_run(mode: str, tmp_path: Path) -> dict[str, object]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env["FLOWBUILDER_CACHE_DIR"] = str(tmp_path / "cache")
    completed = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=tmp_path, env=env, capture_output=True,
                               text=True, timeout=120, check=True)  # fmt: skip
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_without_warm_the_first_run_loads_the_compiler_scheduler_and_expression_engine(tmp_path: Path) -> None:
    """The control case: the work ``warm`` moves exists, so the next test can fail."""
    cold = first_run("cold", tmp_path)
    assert cold["status"] == "succeeded" and cold["outputs"] == [2, "2"]
    loaded = set(cold["loaded_by_first_run"])  # type: ignore[arg-type]
    assert {"flowbuilder.compiler", "flowrunner._scheduler", "jinja2"} <= loaded


def test_after_warm_the_first_run_loads_no_module_and_warm_started_nothing(tmp_path: Path) -> None:
    warm = first_run("warm", tmp_path)
    assert warm["status"] == "succeeded" and warm["outputs"] == [2, "2"]
    assert warm["loaded_by_first_run"] == []
    assert warm["threads"] == 0 and warm["children"] == 0


def test_warm_compiles_its_sample_once_per_call_with_no_compile_pass_and_stores_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``warm`` takes the first pass through the loader and compiler off the first run (a
    sample compiled, never run); no plugin's compile pass sees the sample, the store stays empty."""
    from flowbuilder import compiler

    compiled: list[tuple[str, int]] = []
    real_compile = compiler.compile_workflow

    def counting_compile(workflow: Any, *args: Any, **options: Any) -> Any:
        compiled.append((workflow.name, len(options.get("passes", ()))))
        return real_compile(workflow, *args, **options)

    monkeypatch.setattr(compiler, "compile_workflow", counting_compile)
    engine = Engine(store=f"memory://warm-sample-{uuid.uuid4().hex}")
    try:
        engine.warm()
        assert compiled == [("flowrunner-warm-up", 0)]
        assert engine.store.list_runs().runs == []
    finally:
        engine.close()
