"""Memory benchmark: peak RSS of a 1 -> 100,000 -> 1 fan-out (API and CLI), and of 10,000
concurrent small runs.

Each scenario runs in a fresh child process so its peak RSS (``ru_maxrss`` of that child,
read with ``os.wait4``) is its own. Each figure stands beside floors measured in the same run:

- API (``fanout``, ``runs``): the same child doing only the imports and building the same
  plan(s) without running them, so the difference is what running costs. The aim for
  10,000 concurrent small runs (3 tasks each: shell-free python no-ops) is under 1 GB.
- CLI (``cli``): ``flowbuilder validate`` and ``flowbuilder run`` of a 100,000-task file
  (``--store memory://`` and the default RocksDB store, in a fresh folder), beside two
  floors: the CLI process after its imports (``flowbuilder validate`` of a one-task file)
  and a plain-Python list of 100,000 dicts holding what the file says (name, type,
  depends_on, config per task). Issue 10's goal is a peak of at most 300 MB for every row.

Run: ``python bench/memory.py [fanout|runs|cli|all] [WIDTH]`` (WIDTH: the CLI file's fan-out, default
100,000; smaller only to check the benchmark works).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

GOAL_MB = 300
WIDTH = 100_000

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


PEAK_OF_CHILD = r"""
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[2:], cwd=sys.argv[1] or None, capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # its only child: that child's own peak
print(json.dumps({"code": done.returncode, "peak": peak, "err": done.stderr[-2000:]}))
"""


def _peak_mb(argv: list[str], cwd: str | None = None) -> float:
    """Run ``argv`` to its end, alone under a fresh parent; its own peak RSS in MB."""
    out = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, cwd or "", *argv], capture_output=True, text=True,
                         check=True)  # fmt: skip
    report = json.loads(out.stdout)
    if report["code"] != 0:
        raise RuntimeError(f"{argv[:3]} exited {report['code']}: {report['err']}")
    return float(report["peak"])


def measure(scenario: str, mode: str) -> dict[str, float]:
    bench = __file__.rsplit("/", 1)[0]
    out = subprocess.run([sys.executable, "-c", CHILD.format(bench=bench), scenario, mode],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


FLOOR_DICTS = r"""
import resource
config = {"callable": "builtins:int"}
tasks = [{"name": "root", "type": "python", "config": dict(config)}]
tasks += [{"name": f"t{i}", "type": "python", "depends_on": ["root"], "config": dict(config)} for i in range(%d)]
tasks.append({"name": "sink", "type": "python", "depends_on": [f"t{i}" for i in range(%d)], "config": dict(config)})
"""


def cli_rows(width: int = WIDTH) -> list[tuple[str, float]]:
    """(label, peak MB) of the CLI on a ``width``-task fan-out file and of its floors."""
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from cli_fanout import fanout_yaml

    cli = str(Path(sys.executable).with_name("flowbuilder"))
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        big, one = Path(folder, "big.yaml"), Path(folder, "one.yaml")
        big.write_text(fanout_yaml(width))
        one.write_text("name: one\ntasks:\n  - {name: a, type: python, config: {callable: 'builtins:int'}}\n")
        rows.append(
            (f"floor: list of {width:,} task dicts", _peak_mb([sys.executable, "-c", FLOOR_DICTS % (width, width)]))
        )
        rows.append(("floor: CLI after imports (1 task)", _peak_mb([cli, "validate", str(one)])))
        rows.append(("flowbuilder validate", _peak_mb([cli, "validate", str(big)])))
        rows.append(("flowbuilder run --store memory://", _peak_mb([cli, "run", str(big), "--store", "memory://"])))
        store_folder = Path(folder, "default-store")
        store_folder.mkdir()
        rows.append(("flowbuilder run (default RocksDB)", _peak_mb([cli, "run", str(big)], cwd=str(store_folder))))
    return rows


def main(which: str, width: int = WIDTH) -> None:
    labels = {"fanout": "fan-out 1 -> 100,000 -> 1 (one run)", "runs": "10,000 concurrent 3-task runs"}
    api = [name for name in ("fanout", "runs") if which in (name, "all")]
    if api:
        print(f"{'API scenario':<40} {'baseline MB':>12} {'flowbuilder MB':>15} {'run cost MB':>12}")
    for scenario in api:
        base = measure(scenario, "build")["peak_rss_mb"]
        used = measure(scenario, "run")["peak_rss_mb"]
        print(f"{labels[scenario]:<40} {base:>12.0f} {used:>15.0f} {used - base:>12.0f}")
    if which in ("cli", "all"):
        print(f"\n{f'CLI, 1 -> {width:,} -> 1 fan-out file':<40} {'peak MB':>12} {'goal MB':>15}")
        for label, peak in cli_rows(width):
            goal = "" if label.startswith("floor") else f"<= {GOAL_MB} {'met' if peak <= GOAL_MB else 'NOT met'}"
            print(f"{label:<40} {peak:>12.0f} {goal:>15}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "all", int(sys.argv[2]) if len(sys.argv) > 2 else WIDTH)
