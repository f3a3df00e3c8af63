"""Benchmark: how long the ``flowbuilder`` command takes as a whole process, beside its floors.

    python bench/startup.py               # 20 rounds, medians
    python bench/startup.py --runs 50     # steadier figures
    python bench/startup.py --imports     # also: the slowest imports of `flowbuilder validate`
    python bench/startup.py --api-only --before TREE   # the Python API rows only, and again on TREE's sources

Every command is started as a fresh process from an empty directory with no
``FLOWBUILDER_*`` variables, in **interleaved rounds** (each round runs every command once,
so a burst of load on a shared machine hits all rows alike). Rows:

* floors, measured in the same rounds: ``python -c pass`` (this interpreter and its
  site-packages), ``python -c "import click"`` (the CLI framework), ``python -c "import
  yaml"`` (the parser), ``python -c "import yaml, pydantic"`` (what validating a workflow
  needs at least), the same plus ``asyncio`` (what running one needs at least), and
  :data:`RUN_FLOOR` (what ``run`` of hello needs even when its workflow is cached);
* ``flowbuilder --version`` and ``--help``;
* ``flowbuilder validate`` of the design brief's seed example, warm (its caches filled by a
  first run, as for a user who validates a file again) and cold (``FLOWBUILDER_NO_CACHE=1``:
  first sight of the file, entry points scanned);
* ``flowbuilder run examples/hello/hello.yaml`` with the default store (embedded RocksDB,
  created by the warm-up run), warm (the workflow's validated form comes from the start-up
  cache its warm-up run filled: no YAML parse, no build of core's models), with ``--store
  memory://``, and cold (``FLOWBUILDER_NO_CACHE=1``: the file parsed and validated, entry
  points scanned).

Each row prints its median and fastest wall time, its median CPU time (user + system of the
process and the children it waited for: on a loaded machine, where wall times swell, the
CPU time says what the command itself costs), its median over ``python -c pass`` and the
goal of issue 10 where it has one (``run`` of hello: 0.10 s; ``validate`` of the seed: 0.08
s). Caches go to a private directory (``FLOWBUILDER_CACHE_DIR``), never the user's.
Bytecode: ``PYTHONDONTWRITEBYTECODE`` is removed from the children's environment, so the
warm-up leaves ``__pycache__`` beside the sources as an installed wheel has (pip compiles
at install time); with it set, every editable module is compiled on every start.

``validate`` needs the task types of the seed example (http, script, shell), which come from
flowrunner; without it the command exits 2 and the benchmark says so.

The Python API, each figure from fresh processes (``python -c``), in interleaved rounds too:

* **first run** of a one-task workflow (W0: one ``python`` task) after ``import flowrunner``,
  ``Engine(store="memory://")`` and ``engine.warm()``: what the first ``await engine.run(...)``
  costs (goal 1 ms). Counted in it: loading, validating and compiling the workflow text,
  recording the run, running the task. Not counted, and printed on rows of their own:
  ``import flowrunner``, ``Engine()`` (plugins, store) and ``warm()`` (the imports and pydantic
  builds a run would otherwise do on demand). Beside it: the same first run without ``warm()``
  (imports included, what a script that skips it pays), a second run of another definition,
  and its floor, ``asyncio.run`` of one coroutine calling the same callable in a fresh process
  (a new event loop and one call: what any first run on asyncio pays); the issue's reference
  for a first in-process run of Luigi is 6.6 ms;
* with ``--before TREE``, the first-run children again on another checkout's sources (its
  ``packages/*/src`` first on ``PYTHONPATH``, caches of its own), in the same rounds, printed
  as ``(before)`` rows; each first and second run is also timed in CPU time (``process_time``),
  the figure to compare on a loaded machine;
* **idle engine RSS**: peak resident memory (``VmHWM``) of a process that created ``Engine()``
  and ran nothing, with the default store (embedded RocksDB, in the scratch directory) and with
  ``memory://`` (goal 40 MB), beside ``python -c pass``.

Luigi is not installed here (it is not a dependency), so its one-task workflow is not
measured: issue 10's figure, 0.115 s whole-process on the same machine, is printed as the
reference the ``run`` row must beat.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "examples" / "hello" / "hello.yaml"

# The seed example of the design brief, verbatim: it must parse and mean what it says.
SEED_EXAMPLE = """\
name: data-pipeline
version: "1.0"
description: fetch, process, notify
tasks:
  - name: fetch_data
    type: http
    config: {url: "http://127.0.0.1:8000/data", method: GET, timeout: 30}
  - name: process_data
    type: script
    depends_on: [fetch_data]
    config:
      language: python
      code: |
        import json
        data = json.loads(input_data)
        print(json.dumps({"count": len(data)}))
  - name: send_notification
    type: shell
    depends_on: [process_data]
    config: {command: "echo done"}
"""


@dataclass
class Row:
    label: str
    command: list[str]
    goal_ms: float | None = None
    floor: bool = False
    env: dict[str, str] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    exit_code: int = 0
    stderr: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def fastest_ms(self) -> float:
        return min(self.times) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000


def _flowbuilder_command() -> list[str]:
    script = Path(sys.executable).with_name("flowbuilder")
    if not script.exists():
        raise SystemExit(f"no flowbuilder command beside {sys.executable}; run `bash scripts/install` first")
    return [str(script)]


def _clean_environment(cache: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["FLOWBUILDER_CACHE_DIR"] = str(cache)
    return env


RUN_FLOOR = "import click, asyncio\nfrom pydantic import BaseModel\nclass A(BaseModel):\n    a: int"
"""What ``run`` of hello cannot skip even with its validated workflow cached: the CLI framework,
asyncio and pydantic with one model built (the task types' config models check rendered
configs; building the first model loads pydantic's plugin loader, which imports
``importlib.metadata``). Not Jinja2: hello's expressions are plain references and a comparison
with a number, which are read without it (:mod:`flowbuilder.expressions`)."""


def rows_for(flowbuilder: list[str], seed: Path) -> list[Row]:
    python = sys.executable
    return [
        Row("python -c pass", [python, "-c", "pass"], floor=True),
        Row("python -c 'import click'", [python, "-c", "import click"], floor=True),
        Row("python -c 'import yaml'", [python, "-c", "import yaml"], floor=True),
        Row("python -c 'import yaml, pydantic'", [python, "-c", "import yaml, pydantic"], floor=True),
        Row("python -c '... asyncio'", [python, "-c", "import yaml, pydantic, asyncio"], floor=True),
        Row("python -c 'what run of hello needs'", [python, "-c", RUN_FLOOR], floor=True),
        Row("flowbuilder --version", [*flowbuilder, "--version"]),
        Row("flowbuilder --help", [*flowbuilder, "--help"]),
        Row("flowbuilder validate seed.yaml", [*flowbuilder, "validate", str(seed)], goal_ms=80),
        Row(
            "  cold (FLOWBUILDER_NO_CACHE=1)", [*flowbuilder, "validate", str(seed)], env={"FLOWBUILDER_NO_CACHE": "1"}
        ),
        Row("flowbuilder run hello.yaml", [*flowbuilder, "run", str(HELLO)], goal_ms=100),
        Row("  --store memory://", [*flowbuilder, "run", "--store", "memory://", str(HELLO)]),
        Row("  cold (FLOWBUILDER_NO_CACHE=1)", [*flowbuilder, "run", str(HELLO)], env={"FLOWBUILDER_NO_CACHE": "1"}),
    ]


def _sources(tree: Path) -> str:
    sources = sorted(str(path) for path in (tree / "packages").glob("*/src"))
    if not sources:
        raise SystemExit(f"--before: no packages/*/src in {tree}; give the root of a FlowBuilder checkout")
    return os.pathsep.join(sources)


def with_before_rows(rows: list[Row], tree: Path, cache: Path) -> list[Row]:
    """``rows`` and their ``flowbuilder`` rows again, run on another checkout's sources (``--before``).

    The other tree's ``packages/*/src`` come first on ``PYTHONPATH``, ahead of this tree's
    editable installs, so the same interpreter and third-party packages run the other code;
    its caches go to a directory of their own, so neither tree's warm rows find the other's
    entries. This tree's ``flowbuilder`` rows get this tree's sources on ``PYTHONPATH`` too, so
    both sides pay the same search of those directories at every import (it costs a few ms).
    Measured in the same interleaved rounds as the rest: a before/after of one run.
    """
    before_path, after_path = _sources(tree), _sources(REPO)
    after, before = [], []
    for row in rows:
        if row.floor:
            after.append(row)
            continue
        after.append(Row(row.label, row.command, row.goal_ms, env={**row.env, "PYTHONPATH": after_path}))
        env = {**row.env, "PYTHONPATH": before_path, "FLOWBUILDER_CACHE_DIR": str(cache)}
        before.append(Row(f"{row.label} (before)", row.command, env=env))
    return after + before


def measure(rows: list[Row], rounds: int, cwd: Path, env: dict[str, str]) -> None:
    """One untimed warm-up of each row (fills caches, writes bytecode), then interleaved rounds,
    every other one in reverse order."""
    for row in rows:
        warm = subprocess.run(row.command, cwd=cwd, env={**env, **row.env}, capture_output=True, text=True, check=False)
        row.exit_code, row.stderr = warm.returncode, warm.stderr.strip()
    for round_number in range(rounds):
        # Every other round runs the rows in reverse, so that no row always follows the same one
        # (a row's position in the round would otherwise bias it: caches, load trends).
        for row in rows if round_number % 2 == 0 else rows[::-1]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(row.command, cwd=cwd, env={**env, **row.env}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)  # fmt: skip
            row.times.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            row.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


LUIGI_ONE_TASK_S = 0.115
"""Issue 10's whole-process time of Luigi's one-task workflow on the same machine (not installed here)."""

API_CHILD = r"""
import json, sys, time
started = time.perf_counter()
import flowrunner
imported = time.perf_counter()
import asyncio

W0 = "name: w0\ntasks:\n  - name: a\n    type: python\n    config: {callable: 'builtins:len', args: [[1]]}\n"
OTHER = W0.replace("w0", "w1").replace("[1]", "[1, 2]")
engine = flowrunner.Engine(store="memory://")
created = time.perf_counter()
if sys.argv[1] == "warm":
    engine.warm()
warmed = time.perf_counter()

async def main():
    times = []
    for text in (W0, OTHER):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = await engine.run(text)
        times.append((time.perf_counter() - began, time.process_time() - began_cpu))
        assert result.succeeded, result.status
    return times

(first, first_cpu), (second, second_cpu) = asyncio.run(main())
engine.close()
print(json.dumps({"import": imported - started, "engine": created - imported, "warm": warmed - created,
                  "first": first, "second": second, "first_cpu": first_cpu, "second_cpu": second_cpu}))
"""

FLOOR_CHILD = r"""
import asyncio, json, time
async def one():
    return len([1])
began = time.perf_counter()
asyncio.run(one())
print(json.dumps({"floor": time.perf_counter() - began}))
"""

PEAK_RSS = r"""
def peak_rss_mb():
    # VmHWM belongs to this program's memory; ru_maxrss would also count the parent's, which
    # Linux carries across fork and exec
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

IDLE_CHILD = (
    PEAK_RSS
    + r"""
import json, sys
from flowrunner import Engine
engine = Engine(store=None if sys.argv[1] == "default" else sys.argv[1])
print(json.dumps({"rss_mb": peak_rss_mb(), "store": type(engine.store).__name__}))
engine.close()
"""
)

BASELINE_RSS_CHILD = (
    PEAK_RSS
    + r"""
import json
print(json.dumps({"rss_mb": peak_rss_mb()}))
"""
)


@dataclass
class ApiFigures:
    """Each list holds one value per round (seconds, or MB for the RSS rows)."""

    values: dict[str, list[float]] = field(default_factory=dict)
    store: str = ""

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def median(self, key: str) -> float:
        return statistics.median(self.values[key])


def _child_json(code: str, argument: str, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run([sys.executable, "-c", code, argument], cwd=cwd, env=env, capture_output=True,
                               text=True, check=False)  # fmt: skip
    if completed.returncode != 0:
        raise SystemExit(f"API child ({argument}) failed:\n{completed.stderr.strip()}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def measure_api(rounds: int, cwd: Path, env: dict[str, str], before: Path | None = None,
                before_cache: Path | None = None) -> ApiFigures:  # fmt: skip
    """Interleaved rounds of the API children (one untimed warm-up round writes bytecode and caches).

    ``before`` (``--before TREE``): the first-run children again on that tree's sources, in the
    same rounds (keys ending in ``_before``), with caches of their own (``before_cache``); this
    tree's get its own sources on ``PYTHONPATH``, as in :func:`with_before_rows`."""
    figures = ApiFigures()
    before_env = None
    if before is not None:
        before_env = {**env, "PYTHONPATH": _sources(before), "FLOWBUILDER_CACHE_DIR": str(before_cache or cwd)}
    if before is not None:
        env = {**env, "PYTHONPATH": _sources(REPO)}
    for round_number in range(rounds + 1):
        keep = round_number > 0
        if before_env is not None:
            warm_before = _child_json(API_CHILD, "warm", cwd, before_env)
            cold_before = _child_json(API_CHILD, "cold", cwd, before_env)
            if keep:
                for key in ("warm", "first", "second", "first_cpu", "second_cpu"):
                    figures.add(f"{key}_before", warm_before[key])
                figures.add("first_cold_before", cold_before["first"])
        warm = _child_json(API_CHILD, "warm", cwd, env)
        cold = _child_json(API_CHILD, "cold", cwd, env)
        floor = _child_json(FLOOR_CHILD, "", cwd, env)
        idle_default = _child_json(IDLE_CHILD, "default", cwd, env)
        idle_memory = _child_json(IDLE_CHILD, "memory://", cwd, env)
        passing = _child_json(BASELINE_RSS_CHILD, "", cwd, env)
        if not keep:
            continue
        for key in ("import", "engine", "warm", "first", "second", "first_cpu", "second_cpu"):
            figures.add(key, warm[key])
        figures.add("first_cold", cold["first"])
        figures.add("floor", floor["floor"])
        figures.add("rss_default", idle_default["rss_mb"])
        figures.add("rss_memory", idle_memory["rss_mb"])
        figures.add("rss_pass", passing["rss_mb"])
        figures.store = idle_default["store"]
    return figures


def report_api(figures: ApiFigures, rounds: int) -> None:
    print(f"\nPython API, fresh processes, {rounds} interleaved rounds (medians):")
    print(f"  {'figure':<58}{'median':>11}{'x floor':>9}{'goal':>9}  verdict")
    floor = figures.median("floor")

    def row(label: str, value: float, unit: str, goal: float | None = None, ratio_to: float | None = None) -> None:
        shown = f"{value * 1000:,.2f} ms" if unit == "s" else f"{value:,.1f} MB"
        ratio = f"{value / ratio_to:.1f}x" if ratio_to else ""
        goal_text = "" if goal is None else (f"{goal * 1000:g} ms" if unit == "s" else f"{goal:g} MB")
        verdict = "" if goal is None else ("met" if value <= goal else "missed")
        print(f"  {label:<58}{shown:>11}{ratio:>9}{goal_text:>9}  {verdict}")

    row("floor: asyncio.run(one coroutine calling len([1]))", floor, "s")
    row("import flowrunner (not counted)", figures.median("import"), "s")
    row('Engine(store="memory://") (not counted)', figures.median("engine"), "s")
    trees = [("", "", " (imports included)")]
    if "first_before" in figures.values:
        trees.append(("_before", " (before)", " (before)"))
    for key, tree, cold in trees:  # this tree's rows, then the same from --before's tree
        row("engine.warm() (before; not counted)" if key else "engine.warm() (not counted)",
            figures.median("warm" + key), "s")  # fmt: skip
        row(f"first run of W0 after warm(){tree}", figures.median("first" + key), "s", goal=0.001, ratio_to=floor)
        row(f"  the same, CPU time{tree}", figures.median("first_cpu" + key), "s", ratio_to=floor)
        row(f"  second run, another definition{tree}", figures.median("second" + key), "s", ratio_to=floor)
        row(f"  the same, CPU time{tree}", figures.median("second_cpu" + key), "s", ratio_to=floor)
        row(f"  first run of W0 without warm(){cold}", figures.median("first_cold" + key), "s", ratio_to=floor)
    pass_rss = figures.median("rss_pass")
    row("floor: RSS of python -c pass", pass_rss, "MB")
    row(f"idle Engine() RSS, default store ({figures.store})", figures.median("rss_default"), "MB", goal=40.0)
    row('idle Engine(store="memory://") RSS', figures.median("rss_memory"), "MB", goal=40.0)


def slowest_imports(command_args: list[str], cwd: Path, env: dict[str, str], count: int = 15) -> list[tuple[int, str]]:
    """(cumulative µs, module) of the slowest top-level imports, from ``python -X importtime``."""
    code = f"import sys; from flowbuilder.cli.main import main; sys.argv = ['flowbuilder', *{command_args!r}]; main()"
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    rows = []
    for line in completed.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 1:  # top-level imports only
            rows.append((int(match.group(1)), match.group(3)))
    return sorted(rows, reverse=True)[:count]


def report(rows: list[Row], rounds: int) -> None:
    floor = rows[0].median_ms
    print(f"{rounds} interleaved rounds, Python {sys.version.split()[0]}, {sys.executable}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    width = max(36, *(len(row.label) + 1 for row in rows))
    print(f"  {'command':<{width}}{'median':>10}{'fastest':>10}{'cpu':>10}{'x pass':>8}{'goal':>9}  verdict")
    for row in rows:
        ratio = row.median_ms / floor
        goal = f"{row.goal_ms / 1000:.2f} s" if row.goal_ms else ""
        if row.exit_code != 0:
            verdict = f"exit {row.exit_code}: {row.stderr.splitlines()[-1] if row.stderr else 'no message'}"
        elif row.floor:
            verdict = "floor"
        elif row.goal_ms:
            verdict = "met" if row.median_ms <= row.goal_ms else f"missed by {row.median_ms - row.goal_ms:,.0f} ms"
        else:
            verdict = ""
        print(
            f"  {row.label:<{width}}{row.median_ms:>7,.1f} ms{row.fastest_ms:>7,.1f} ms{row.cpu_ms:>7,.1f} ms"
            f"{ratio:>7.1f}x{goal:>9}  {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--imports", action="store_true", help="list the slowest imports of `flowbuilder validate`")
    parser.add_argument("--no-api", action="store_true", help="skip the Python API figures (first run, idle RSS)")
    parser.add_argument("--api-only", action="store_true", help="only the Python API figures (no command rows)")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="TREE",
        help="also run each flowbuilder row on the sources of another checkout (e.g. `git worktree add /tmp/old"
        " main`), in the same rounds, labelled (before)",
    )
    options = parser.parse_args(argv)

    flowbuilder = _flowbuilder_command()
    with tempfile.TemporaryDirectory(prefix="flowbuilder-startup-") as scratch:
        cwd = Path(scratch) / "work"
        cwd.mkdir()
        env = _clean_environment(Path(scratch) / "cache")
        seed = cwd / "seed.yaml"
        seed.write_text(SEED_EXAMPLE)
        if not options.api_only:
            rows = rows_for(flowbuilder, seed)
            if options.before is not None:
                rows = with_before_rows(rows, options.before.resolve(), Path(scratch) / "cache-before")
            measure(rows, options.runs, cwd, env)
            report(rows, options.runs)
            run_row = next(row for row in rows if row.label == "flowbuilder run hello.yaml")
            luigi = "installed, but not measured" if importlib.util.find_spec("luigi") else "not installed here"
            verdict = "below" if run_row.median_ms / 1000 < LUIGI_ONE_TASK_S else "not below"
            print(
                f"  reference: Luigi's one-task workflow, {LUIGI_ONE_TASK_S:.3f} s (issue 10's figure; Luigi {luigi}):"
                f" `flowbuilder run hello.yaml` is {verdict} it"
            )
        if not options.no_api:
            before = options.before.resolve() if options.before is not None else None
            report_api(measure_api(options.runs, cwd, env, before, Path(scratch) / "cache-before-api"), options.runs)
        if options.imports:
            print("\nslowest top-level imports of a cold `flowbuilder validate seed.yaml` (python -X importtime):")
            cold = {**env, "FLOWBUILDER_NO_CACHE": "1"}  # the imports the validation cache saves
            for micros, module in slowest_imports(["validate", str(seed)], cwd, cold):
                print(f"  {micros / 1000:>8,.1f} ms  {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
