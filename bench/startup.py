"""Benchmark: how long the ``flowbuilder`` command takes as a whole process, beside its floors.

    python bench/startup.py               # 20 rounds, medians
    python bench/startup.py --runs 50     # steadier figures
    python bench/startup.py --imports     # also: the slowest imports of `flowbuilder validate`

Every command is started as a fresh process from an empty directory with no
``FLOWBUILDER_*`` variables, in **interleaved rounds** (each round runs every command once,
so a burst of load on a shared machine hits all rows alike). Rows:

* floors, measured in the same rounds: ``python -c pass`` (this interpreter and its
  site-packages), ``python -c "import click"`` (the CLI framework), ``python -c "import
  yaml, pydantic"`` (what validating a workflow needs at least) and the same plus
  ``asyncio`` (what running one needs at least);
* ``flowbuilder --version`` and ``--help``;
* ``flowbuilder validate`` of the design brief's seed example, warm (its caches filled by a
  first run, as for a user who validates a file again) and cold (``FLOWBUILDER_NO_CACHE=1``:
  first sight of the file, entry points scanned);
* ``flowbuilder run examples/hello/hello.yaml`` with the default store (embedded RocksDB,
  created by the warm-up run) and with ``--store memory://``.

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
"""

from __future__ import annotations

import argparse
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


def rows_for(flowbuilder: list[str], seed: Path) -> list[Row]:
    python = sys.executable
    return [
        Row("python -c pass", [python, "-c", "pass"], floor=True),
        Row("python -c 'import click'", [python, "-c", "import click"], floor=True),
        Row("python -c 'import yaml, pydantic'", [python, "-c", "import yaml, pydantic"], floor=True),
        Row("python -c '... asyncio'", [python, "-c", "import yaml, pydantic, asyncio"], floor=True),
        Row("flowbuilder --version", [*flowbuilder, "--version"]),
        Row("flowbuilder --help", [*flowbuilder, "--help"]),
        Row("flowbuilder validate seed.yaml", [*flowbuilder, "validate", str(seed)], goal_ms=80),
        Row(
            "  cold (FLOWBUILDER_NO_CACHE=1)", [*flowbuilder, "validate", str(seed)], env={"FLOWBUILDER_NO_CACHE": "1"}
        ),
        Row("flowbuilder run hello.yaml", [*flowbuilder, "run", str(HELLO)], goal_ms=100),
        Row("  --store memory://", [*flowbuilder, "run", "--store", "memory://", str(HELLO)]),
    ]


def measure(rows: list[Row], rounds: int, cwd: Path, env: dict[str, str]) -> None:
    """One untimed warm-up of each row (fills caches, writes bytecode), then interleaved rounds."""
    for row in rows:
        warm = subprocess.run(row.command, cwd=cwd, env={**env, **row.env}, capture_output=True, text=True, check=False)
        row.exit_code, row.stderr = warm.returncode, warm.stderr.strip()
    for _ in range(rounds):
        for row in rows:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(row.command, cwd=cwd, env={**env, **row.env}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)  # fmt: skip
            row.times.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            row.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


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
    print(f"  {'command':<36}{'median':>10}{'fastest':>10}{'cpu':>10}{'x pass':>8}{'goal':>9}  verdict")
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
            f"  {row.label:<36}{row.median_ms:>7,.1f} ms{row.fastest_ms:>7,.1f} ms{row.cpu_ms:>7,.1f} ms"
            f"{ratio:>7.1f}x{goal:>9}  {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--imports", action="store_true", help="list the slowest imports of `flowbuilder validate`")
    options = parser.parse_args(argv)

    flowbuilder = _flowbuilder_command()
    with tempfile.TemporaryDirectory(prefix="flowbuilder-startup-") as scratch:
        cwd = Path(scratch) / "work"
        cwd.mkdir()
        env = _clean_environment(Path(scratch) / "cache")
        seed = cwd / "seed.yaml"
        seed.write_text(SEED_EXAMPLE)
        rows = rows_for(flowbuilder, seed)
        measure(rows, options.runs, cwd, env)
        report(rows, options.runs)
        if options.imports:
            print("\nslowest top-level imports of a cold `flowbuilder validate seed.yaml` (python -X importtime):")
            cold = {**env, "FLOWBUILDER_NO_CACHE": "1"}  # the imports the validation cache saves
            for micros, module in slowest_imports(["validate", str(seed)], cwd, cold):
                print(f"  {micros / 1000:>8,.1f} ms  {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
