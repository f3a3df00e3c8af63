"""Benchmark: CPU per ``foreach`` item whose output is a small dict (memory://).

    python bench/foreach_items_cpu.py                  # 3,000 items, median of 7 runs
    python bench/foreach_items_cpu.py --items 10000 --runs 5

What a per-item check of the item's output costs (review-night, issue 10: a check that
measured every non-scalar item output before its ``item_succeeded`` event cost about a fifth
more per item and was not kept; bench/README.md). The figure is the run's CPU time
(``time.process_time``, the store's and the loop's threads included) divided by the item
count; run the script against two trees in alternating rounds to compare them (see
bench/README.md for how the "before" tree is put on ``PYTHONPATH``). Needs flowrunner.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any


def build_plan(items: int) -> Any:
    from flowbuilder.compiler import compile_workflow
    from flowbuilder.model import Workflow
    from flowrunner.tasktypes import PythonTask

    task = {"name": "items", "type": "python", "foreach": list(range(items)),
            "config": {"callable": "builtins:dict", "kwargs": {"x": 1, "y": "two", "z": [3]}}}  # fmt: skip
    workflow = Workflow.model_validate({"name": "foreach-items", "concurrency": 64, "tasks": [task]})
    return compile_workflow(workflow, {"python": PythonTask()})


def cpu_per_item(items: int, runs: int) -> list[float]:
    """CPU µs per item of each of ``runs`` runs of the same plan, each on a fresh memory:// store."""
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.stores.memory import MemoryStore
    from flowrunner import LocalRunner
    from flowrunner.tasktypes import PythonTask

    plan = build_plan(items)
    runner = LocalRunner({"python": PythonTask()})
    figures = []
    for number in range(runs):
        url = f"memory://bench-foreach-items-{number}"
        store = MemoryStore.open(url)
        try:
            started = time.process_time()
            result = asyncio.run(runner.run_async(RunRequest(plan=plan, store=store)))
            figures.append((time.process_time() - started) / items * 1e6)
            if not result.succeeded:
                raise SystemExit(f"the run failed: {result.tasks['items'].error}")
        finally:
            MemoryStore.forget(url)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000, help="items of the foreach task (default 3000)")
    parser.add_argument("--runs", type=int, default=7, help="runs measured (default 7)")
    options = parser.parse_args()
    figures = cpu_per_item(options.items, options.runs)
    print(f"{options.items} items: {statistics.median(figures):.1f} µs CPU per item "
          f"(median of {options.runs}; {min(figures):.1f}-{max(figures):.1f})")  # fmt: skip


if __name__ == "__main__":
    main()
