"""Benchmark: many short runs of new definitions in one process, garbage collection included.

    python bench/run_series.py                   # 3,000 runs on memory://
    python bench/run_series.py --runs 1000 --store rocksdb --json

What a service that runs small workflows one after another pays per run: ``Engine.run`` of
YAML text (a one-task workflow calling ``builtins:len``, a new definition each time: load,
validate, compile, record, run) on one engine and one store, after ``Engine.warm()`` and 50
untimed runs. Unlike ``bench/run_fixed_cost.py``, which collects garbage before each timed
run and reports medians, the collector runs here whenever the runs' allocations bring it
about, and the figure is the mean (process CPU time over all runs): a run that leaves
reference cycles makes collections that land on whichever later run triggers them. Printed
beside it: the collections per run (by generation) and the CPU time they took, and the
floor, measured in the same process: the same texts read by libyaml's safe loader (what the
engine's reader is built on) plus one call of the task's callable, what running a definition
needs at the very least. Issue 10 has no goal for this figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from typing import Any


def workflow_text(index: int) -> str:
    return (f"name: series-{index}\ntasks:\n  - name: a\n    type: python\n"
            f"    config: {{callable: 'builtins:len', args: [[{index}]]}}\n")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000, help="timed runs (after 50 untimed)")
    parser.add_argument("--store", choices=("memory", "rocksdb"), default="memory")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    import yaml

    import flowrunner

    texts = [workflow_text(index) for index in range(options.runs + 50)]
    collections: dict[int, list[float]] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
    began = [0.0]

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.process_time()
        else:
            tally = collections[info["generation"]]
            tally[0] += 1
            tally[1] += time.process_time() - began[0]

    with tempfile.TemporaryDirectory() as scratch:
        store = "memory://run-series" if options.store == "memory" else f"rocksdb://{scratch}/series"
        engine = flowrunner.Engine(store=store)
        engine.warm()

        async def series() -> float:
            for text in texts[:50]:
                await engine.run(text)
            gc.collect()
            gc.callbacks.append(on_collection)
            started = time.process_time()
            try:
                for text in texts[50:]:
                    result = await engine.run(text)
                    assert result.succeeded, result.status
            finally:
                gc.callbacks.remove(on_collection)
            return time.process_time() - started

        try:
            total = asyncio.run(series())
        finally:
            engine.close()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    started = time.process_time()
    for text in texts[50:]:
        document = yaml.load(text, Loader=loader)  # noqa: S506 (libyaml's safe loader)
        len(*document["tasks"][0]["config"]["args"])
    floor = time.process_time() - started
    runs = options.runs
    report = {
        "store": options.store,
        "runs": runs,
        "cpu_ms_per_run": total / runs * 1e3,
        "floor_ms_per_run": floor / runs * 1e3,
        "collections_per_run": {str(g): tally[0] / runs for g, tally in collections.items()},
        "collection_ms_per_run": sum(tally[1] for tally in collections.values()) / runs * 1e3,
    }
    if options.json:
        print(json.dumps(report, indent=1))
        return
    per_generation = ", ".join(f"gen{g} {tally[0] / runs:.3f}" for g, tally in collections.items())
    print(f"{runs} runs of new one-task definitions through Engine.run on {options.store}, mean CPU per run:")
    print(
        f"  run     {report['cpu_ms_per_run']:.3f} ms  ({report['cpu_ms_per_run'] / report['floor_ms_per_run']:.1f}x floor)"
    )
    print(f"  floor   {report['floor_ms_per_run']:.3f} ms  (libyaml's safe load + the call)")
    print(
        f"  garbage collections per run: {per_generation}; their CPU {report['collection_ms_per_run']:.3f} ms per run"
    )


if __name__ == "__main__":
    main()
