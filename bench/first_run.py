"""The first run in a fresh process after ``LocalRunner.warm()``, this tree against another, alternately.

The child is bench/issue10.py's first-run row's (``LocalRunner({"python": PythonTask()})``,
the 2-task fan-out plan, ``memory://``, ``warm()`` timed apart, then two runs), with CPU
time (``time.process_time``) beside wall time: on a shared machine the CPU time of a
sub-millisecond run moves less than its wall time. Children of this tree and of ``--before
TREE`` (its ``packages/*/src`` on ``PYTHONPATH``, this interpreter) alternate, one untimed
round first, bytecode written as an installed wheel has it. Medians.

Run: ``python bench/first_run.py [--rounds 15] [--before /tmp/old]`` (``git archive main
packages | tar -x -C /tmp/old`` makes such a tree).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent

CHILD = """
import asyncio, json, time
from flowbuilder.interfaces import RunRequest
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner
from flowrunner.tasktypes import PythonTask
import fanout
plan = fanout.build_plan(0)
runner = LocalRunner({"python": PythonTask()})
started = time.perf_counter()
runner.warm()
figures = {"warm": time.perf_counter() - started}
for which in ("first", "again"):
    store = MemoryStore.open("memory://first-run")
    cpu, started = time.process_time(), time.perf_counter()
    result = asyncio.run(runner.run_async(RunRequest(plan=plan, store=store)))
    figures[which] = time.perf_counter() - started
    figures[which + " cpu"] = time.process_time() - cpu
    assert result.succeeded
print(json.dumps(figures))
"""

FIGURES = ("first", "first cpu", "again", "again cpu", "warm")


def child_env(tree: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(src) for src in sorted((tree / "packages").glob("*/src")))
    return env


def measure(rounds: int, before: Path | None) -> dict[str, list[dict[str, float]]]:
    trees: dict[str, Path | None] = {"this tree": None}
    if before is not None:
        trees["before"] = before
    children: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    for round_number in range(rounds + 1):
        for label, tree in trees.items():
            done = subprocess.run([sys.executable, "-c", CHILD], cwd=BENCH, env=child_env(tree), capture_output=True,
                                  text=True, check=True)  # fmt: skip
            if round_number:
                children[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return children


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed children of each tree (default 15)")
    parser.add_argument("--before", type=Path, help="another tree with packages/*/src, run alternately")
    args = parser.parse_args(argv)
    children = measure(args.rounds, args.before)
    print(f"first run in a fresh process after warm(), medians of {args.rounds} children (ms):")
    print(f"  {'tree':10s}" + "".join(f"{figure:>11s}" for figure in FIGURES))
    for label, figures in children.items():
        medians = [statistics.median(child[figure] for child in figures) * 1e3 for figure in FIGURES]
        print(f"  {label:10s}" + "".join(f"{median:11.3f}" for median in medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
