"""Issue 10's goal table in one command: every figure beside its floor, measured in this run.

    .venv/bin/python bench/issue10.py            # full sizes (about 10-20 minutes)
    .venv/bin/python bench/issue10.py --quick    # smaller sizes, fewer rounds (about 1-2 minutes)
    .venv/bin/python bench/issue10.py --json     # the rows for machines

Each row comes from the benchmark that owns the figure, called, not copied:
``bench/startup.py`` (whole-process ``run`` and ``validate``), ``bench/storage_fanout.py``
(per task, API, memory and RocksDB), ``bench/cli_fanout.py`` (CLI against API),
``bench/compile.py`` (load + validate + plan), ``bench/real_dag.py`` (span against an
ideal list schedule), ``bench/shell.py`` (200 ``true`` commands against ``subprocess.Popen``)
and ``bench/memory.py`` (peak RSS of a 100,000-task fan-out). The first run in a fresh
process and the idle engine's RSS, which no other benchmark measures, are measured here in
fresh child processes. The floor of each row is what that benchmark measures beside it:
``python -c pass``, the hand-written in-degree loop, libyaml's event stream, the ideal
schedule, ``Popen``, the plan built but not run.

Where a goal is missed, the column ``necessary`` gives the measured cost, in the same run, of
work the row cannot leave out while FlowBuilder keeps its design (the libraries its design
card names, two recorded events per task): the imports a ``run`` of hello needs (click,
asyncio, pydantic with one model built), the in-degree loop that also records the runner's
two events per task, ``memory://``'s run plus RocksDB's write of the bytes the store writes,
libyaml's events plus ``graphlib``'s order of the same graph. A goal below its necessary
figure cannot be met by making FlowBuilder's own code faster.

``--quick`` keeps every row that fits in a minute or two and prints "skipped (--quick)"
for the others (the 100,000-task rows and the 20,000-task DAG); its DAG runs are scaled to
a 1 s ideal schedule instead of 4 s. No figure is a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

Row = dict[str, Any]


def row(figure: str, value: str, floor: str, ratio: str, goal: str, met: bool | None, necessary: str = "") -> Row:
    verdict = "-" if met is None else "met" if met else "missed"
    return {"figure": figure, "value": value, "floor": floor, "ratio": ratio, "goal": goal, "verdict": verdict,
            "necessary": necessary}  # fmt: skip


def skipped(figure: str, goal: str) -> Row:
    return {"figure": figure, "value": "skipped (--quick)", "floor": "", "ratio": "", "goal": goal, "verdict": "-",
            "necessary": ""}  # fmt: skip


def whole_process(rounds: int) -> list[Row]:
    """``flowbuilder run`` of hello and ``validate`` of the seed, medians (bench/startup.py)."""
    import startup

    flowbuilder = startup._flowbuilder_command()
    with tempfile.TemporaryDirectory(prefix="fb-issue10-") as scratch:
        cwd = Path(scratch) / "work"
        cwd.mkdir()
        env = startup._clean_environment(Path(scratch) / "cache")
        seed = cwd / "seed.yaml"
        seed.write_text(startup.SEED_EXAMPLE)
        rows = [row_ for row_ in startup.rows_for(flowbuilder, seed)
                if row_.label in ("python -c pass", "python -c 'what run of hello needs'",
                                  "flowbuilder validate seed.yaml", "flowbuilder run hello.yaml")]  # fmt: skip
        startup.measure(rows, rounds, cwd, env)
    floor, needs, validate, run = rows
    out = []
    for measured, label, goal, necessary in (
        (run, "`flowbuilder run` hello, whole process", 100,
         f"{needs.median_ms / 1000:.3f} s (importing click, asyncio, pydantic + one model)"),
        (validate, "`flowbuilder validate` seed, whole process", 80, ""),
    ):  # fmt: skip
        out.append(row(label, f"{measured.median_ms / 1000:.3f} s", f"{floor.median_ms / 1000:.3f} s (python -c pass)",
                       f"{measured.median_ms / floor.median_ms:.1f}x", f"<= {goal / 1000:.2f} s",
                       measured.exit_code == 0 and measured.median_ms <= goal, necessary))  # fmt: skip
    return out


FIRST_RUN = """
import asyncio, json, sys, time
from flowbuilder.interfaces import RunRequest
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner
from flowrunner.tasktypes import PythonTask
import fanout
plan = fanout.build_plan(0)
runner = LocalRunner({"python": PythonTask()})
warmed = time.perf_counter()
if sys.argv[1] == "warm":
    runner.warm()
warmed = time.perf_counter() - warmed
times = []
for _ in range(2):
    store = MemoryStore.open("memory://issue10-first")
    started = time.perf_counter()
    result = asyncio.run(runner.run_async(RunRequest(plan=plan, store=store)))
    times.append(time.perf_counter() - started)
    assert result.succeeded
print(json.dumps({"first": times[0], "again": times[1], "warm": warmed}))
"""


def first_run(rounds: int = 5) -> Row:
    """The first run of a 2-task plan in a fresh process after ``runner.warm()``, beside a repeated run.

    "Imports done before": the child imports flowrunner and the ``python`` type, builds the
    plan and the runner, and calls ``warm()`` (the scheduler's modules, which the runner
    imports on first use so that an idle engine does not hold them) before the timed run;
    the same child without ``warm()`` is shown beside it. Medians of ``rounds`` children of
    each after an untimed one, with bytecode written as an installed wheel has it
    (``PYTHONDONTWRITEBYTECODE`` removed: otherwise each lazily imported module is compiled
    from source inside the timed run).
    """
    import statistics

    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    children: dict[str, list[dict[str, float]]] = {"warm": [], "cold": []}
    for round_number in range(rounds + 1):
        for mode, kept in children.items():
            done = subprocess.run([sys.executable, "-c", FIRST_RUN, mode], cwd=BENCH, env=env, capture_output=True,
                                  text=True, check=True)  # fmt: skip
            if round_number:
                kept.append(json.loads(done.stdout.strip().splitlines()[-1]))

    def median(mode: str, key: str) -> float:
        return statistics.median(child[key] for child in children[mode])

    first, again, cold = median("warm", "first"), median("warm", "again"), median("cold", "first")
    return row("first run in a fresh process (API, W0)",
               f"{first * 1e3:.2f} ms (without warm(): {cold * 1e3:.1f} ms; warm() {median('warm', 'warm') * 1e3:.0f} ms)",
               f"{again * 1e3:.2f} ms (a repeat run)", f"{first / again:.1f}x", "<= 1 ms", first <= 0.001)  # fmt: skip


def per_task_api(sizes: list[int], rounds: int) -> list[Row]:
    """Per task, API, memory and RocksDB, beside the in-degree loop (bench/storage_fanout.py, CPU time)."""
    done = subprocess.run([sys.executable, str(BENCH / "storage_fanout.py"), "--tasks", ",".join(map(str, sizes)),
                           "--repeat", str(rounds), "--cpu", "--json"], capture_output=True, text=True, check=True)  # fmt: skip
    report = json.loads(done.stdout)
    rows = []
    for size, figures in report["sizes"].items():
        floor, memory, rocks = figures["floor"], figures["memory://"], figures["rocksdb:// sync=batch"]
        recording, write = figures["recording floor"], figures["rocksdict write"]
        rows.append(row(f"per task, API, {int(size):,} fan-out, memory", f"{memory:.2f} us", f"{floor:.2f} us",
                        f"{memory / floor:.1f}x", "<= 5x floor", memory / floor <= 5,
                        f"{recording:.2f} us = {recording / floor:.1f}x floor (the loop recording two events per task)"))  # fmt: skip
        rows.append(row(f"per task, API, {int(size):,} fan-out, RocksDB", f"{rocks:.2f} us", f"{floor:.2f} us",
                        f"{rocks / floor:.1f}x ({rocks / memory:.2f}x memory)", "<= 5x floor, <= 1.3x memory",
                        rocks / floor <= 5 and rocks / memory <= 1.3,
                        f"{memory + write:.2f} us = {(memory + write) / memory:.2f}x memory (memory:// + RocksDB's write"
                        " of the stored bytes)"))  # fmt: skip
    return rows


def cli_vs_api(size: int, rounds: int) -> Row:
    """Per task of ``flowbuilder run`` (default store) over the API's, start-up subtracted (bench/cli_fanout.py)."""
    import cli_fanout

    with tempfile.TemporaryDirectory(prefix="fb-issue10-cli-") as name:
        folder = Path(name)
        (folder / "one.yaml").write_text(cli_fanout.chain_yaml(1))
        (folder / "fan.yaml").write_text(cli_fanout.fanout_yaml(size))
        best: dict[tuple[str, str], float] = {}
        for _ in range(rounds):
            for file in ("one", "fan"):
                for way in ("cli", "api"):
                    _wall, cpu, _run = cli_fanout.timed(cli_fanout.command(way, folder / f"{file}.yaml", False), folder)
                    best[file, way] = min(best.get((file, way), float("inf")), cpu)
    tasks = size + 2
    cli = (best["fan", "cli"] - best["one", "cli"]) / tasks * 1e6
    api = (best["fan", "api"] - best["one", "api"]) / tasks * 1e6
    floor = cli_fanout.floor_per_task(cli_fanout.fanout_graph(size)) * 1e6
    if cli <= 0 or api <= 0:  # start-up noise larger than the tasks' cost: no figure rather than a wrong one
        return row(f"per task, CLI default store, {size:,} fan-out (CPU)", "too noisy (start-up varied more than the run)",
                   f"{floor:.2f} us", "-", "<= 1.5x API", None)  # fmt: skip
    return row(f"per task, CLI default store, {size:,} fan-out (CPU)", f"{cli:.1f} us (API {api:.1f} us)",
               f"{floor:.2f} us", f"{cli / api:.2f}x API", "<= 1.5x API", cli / api <= 1.5)  # fmt: skip


def load_to_plan(sizes: list[int]) -> list[Row]:
    """load + validate + plan beside libyaml's events (bench/compile.py's workers)."""
    import compile as compile_bench

    rows = []
    with tempfile.TemporaryDirectory(prefix="fb-issue10-compile-") as scratch:
        for size in sizes:
            path = Path(scratch) / f"w{size}.yaml"
            path.write_text(compile_bench.generate_workflow(size))
            repeat = compile_bench._repeats_for(size, None)
            floor = compile_bench._run_worker("yaml", path, repeat)["yaml_events"]["seconds"]
            order = compile_bench._run_worker("graphlib", path, repeat)["graphlib"]["seconds"]
            total = compile_bench._run_worker("flowbuilder", path, repeat)["total"]["seconds"]
            goal = compile_bench.GOAL_SECONDS.get(size)
            rows.append(row(f"load + validate + plan, {size:,} tasks", f"{total:.3f} s", f"{floor:.3f} s (libyaml events)",
                            f"{total / floor:.1f}x", f"<= {goal} s" if goal else "-",
                            None if goal is None else total <= goal,
                            f"{floor + order:.3f} s (libyaml events + graphlib's order)"))  # fmt: skip
    return rows


def real_dag(sizes: list[int], target: float) -> list[Row]:
    """Span over the ideal list schedule (bench/real_dag.py), the worse shape of each size."""
    import real_dag as dag

    rows = []
    results = dag.measure(sizes, target)
    for size in sizes:
        mine = [r for r in results if abs(r["tasks"] - size) <= 5]
        worst = max(mine, key=lambda r: r["ratio"])
        rows.append(row(f"span / ideal, {worst['tasks']:,}-task DAG ({worst['shape']}), P=8",
                        f"{worst['span']:.2f} s",
                        f"{worst['ideal']:.2f} s ideal, {worst['asyncio_floor']:.2f} s asyncio floor"
                        f" ({worst['stock_asyncio_floor']:.2f} s on the stock loop)",
                        f"{worst['ratio']:.2f} ({worst['ratio_to_asyncio_floor']:.2f}x floor)",
                        f"<= {worst['goal']:.2f}", worst["ratio"] <= worst["goal"]))  # fmt: skip
    return rows


def shell_commands(rounds: int) -> Row:
    import shell

    figures = shell.measure(200, 8, rounds)
    seconds = figures["seconds"]
    return row("200 x `true`, 8 at a time", f"{seconds['flowbuilder']:.3f} s (peak {figures['peak_at_once']} at once)",
               f"{seconds['popen']:.3f} s (Popen)", f"{figures['ratio_vs_popen']:.2f}x Popen", ">= 0.95x Popen",
               bool(figures["goal_met"]))  # fmt: skip


PEAK_MB = "import re; print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) / 1024)"
"""The process's own high-water mark (VmHWM starts afresh at exec; ru_maxrss may carry the forking parent's)."""
IDLE = f"""
from flowbuilder.plugins import build_plugin_host
host = build_plugin_host()
runner = host.make_runner()
{PEAK_MB}
"""


def memory_rows(quick: bool) -> list[Row]:
    import memory

    pass_rss = float(subprocess.run([sys.executable, "-c", PEAK_MB], capture_output=True, text=True, check=True).stdout)
    idle = float(subprocess.run([sys.executable, "-c", IDLE], capture_output=True, text=True, check=True).stdout)
    rows = []
    if quick:
        rows.append(skipped("peak RSS, 100K fan-out", "<= 300 MB"))
    else:
        built = memory.measure("fanout", "build")["peak_rss_mb"]
        ran = memory.measure("fanout", "run")["peak_rss_mb"]
        rows.append(row("peak RSS, 100K fan-out", f"{ran:.0f} MB", f"{built:.0f} MB (plan built, not run)",
                        f"{ran / built:.1f}x", "<= 300 MB", ran <= 300))  # fmt: skip
    rows.append(row("peak RSS, idle engine (host + runner)", f"{idle:.0f} MB", f"{pass_rss:.0f} MB (python -c pass)",
                    f"{idle / pass_rss:.1f}x", "<= 40 MB", idle <= 40))  # fmt: skip
    return rows


def measure(quick: bool) -> list[Row]:
    rows: list[Row] = []
    memory = memory_rows(quick)  # first, while this process is small: bench/memory.py's children read ru_maxrss
    rows += whole_process(5 if quick else 20)
    rows.append(first_run(5 if quick else 15))
    rows += per_task_api([1_000, 10_000] if quick else [1_000, 10_000, 100_000], 1 if quick else 3)
    if quick:
        rows.append(skipped("per task, API, 100,000 fan-out", "<= 5x floor, <= 1.3x memory"))
    rows.append(cli_vs_api(10_000, 2 if quick else 3))  # 1,000 tasks cost less than start-up's noise
    rows += load_to_plan([10_000] if quick else [10_000, 100_000])
    if quick:
        rows.append(skipped("load + validate + plan, 100,000 tasks", "<= 1.5 s"))
    rows += real_dag([1_000, 5_000] if quick else [1_000, 5_000, 20_000], 1.0 if quick else 4.0)
    if quick:
        rows.append(skipped("span / ideal, 20,000-task DAG, P=8", "<= 1.10"))
    rows.append(shell_commands(2 if quick else 5))
    return rows + memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds (about 1-2 minutes)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    options = parser.parse_args(argv)
    rows = measure(options.quick)
    if options.json:
        print(json.dumps(rows, indent=1))
        return 0
    columns = ("figure", "value", "floor", "ratio", "goal", "verdict", "necessary")
    widths = {column: max(len(column), *(len(str(r[column])) for r in rows)) for column in columns}
    print("  ".join(column.ljust(widths[column]) for column in columns))
    print("  ".join("-" * widths[column] for column in columns))
    for r in rows:
        print("  ".join(str(r[column]).ljust(widths[column]) for column in columns))
    met = sum(r["verdict"] == "met" for r in rows)
    judged = sum(r["verdict"] in ("met", "missed") for r in rows)
    print(f"\n{met} of {judged} goals met{' (quick sizes)' if options.quick else ''}; "
          "'necessary': what the row cannot leave out under FlowBuilder's design, measured in this run; "
          "per-task rows use CPU time, whole-process rows the median wall time, RSS rows the peak;"
          " the DAG rows run on the engine's default loop, asyncio's with precise timers (bench/real_dag.py --uvloop"
          " for uvloop's), their floor a hand-written asyncio scheduler on the same loop")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
