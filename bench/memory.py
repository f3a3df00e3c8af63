"""Memory benchmark: peak RSS of a 100,000-task fan-out, and of 10,000 concurrent small runs.

Each scenario runs in a fresh child process so its peak RSS (``ru_maxrss``) is its own. The
baseline is the same child doing only the imports and building the same plan(s) without
running them, so the difference is what running costs. The aim for 10,000 concurrent small
runs (3 tasks each: shell-free python no-ops) is under 1 GB.

Run: ``python bench/memory.py [fanout|runs|all]``.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import asyncio, json, resource, sys
sys.path.insert(0, {bench!r})
from flowbuilder.compiler import compile_workflow
from flowbuilder.interfaces import RunRequest
from flowbuilder.model import Workflow
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner
from flowrunner.tasktypes import PythonTask

scenario, execute = sys.argv[1], sys.argv[2] == "run"
types = {{"python": PythonTask()}}
noop = {{"callable": "fanout:noop"}}
if scenario == "fanout":
    import fanout
    plans = [fanout.build_plan(100_000)]
    copies = 1
else:
    small = Workflow.model_validate({{"name": "small", "tasks": [
        {{"name": "a", "type": "python", "config": noop}},
        {{"name": "b", "type": "python", "depends_on": ["a"], "config": {{"callable": "asyncio:sleep", "args": [0.2]}}}},
        {{"name": "c", "type": "python", "depends_on": ["b"], "config": noop}}]}})
    plans = [compile_workflow(small, types)]
    copies = 10_000
store = MemoryStore.open("memory://bench-memory")
runner = LocalRunner(types)
results = []
async def main():
    requests = [RunRequest(plan=plans[0], store=store) for _ in range(copies)]
    results.extend(await asyncio.gather(*(runner.run_async(r) for r in requests)))
if execute:
    asyncio.run(main())
    assert all(r.succeeded for r in results), [r.status for r in results[:3]]
print(json.dumps({{"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "runs": len(results)}}))
"""


def measure(scenario: str, mode: str) -> dict[str, float]:
    bench = __file__.rsplit("/", 1)[0]
    out = subprocess.run([sys.executable, "-c", CHILD.format(bench=bench), scenario, mode],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(which: str) -> None:
    print(f"{'scenario':<40} {'baseline MB':>12} {'flowbuilder MB':>15} {'run cost MB':>12}")
    labels = {"fanout": "fan-out 1 -> 100,000 -> 1 (one run)", "runs": "10,000 concurrent 3-task runs"}
    for scenario in ["fanout", "runs"] if which == "all" else [which]:
        base = measure(scenario, "build")["peak_rss_mb"]
        used = measure(scenario, "run")["peak_rss_mb"]
        print(f"{labels[scenario]:<40} {base:>12.0f} {used:>15.0f} {used - base:>12.0f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "all")
