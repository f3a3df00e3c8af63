"""Shell benchmark: 200 independent `true` commands, 8 at a time, beside plain Python (issue 10).

FlowBuilder runs them as ``shell`` tasks of one run at ``concurrency: 8`` (string commands,
so each goes through ``/bin/sh -c``, in its own process group, stdout/stderr read line by
line, with the orphan sweep and guardian of every attempt). The floors start the same
``/bin/sh -c true`` 8 at a time in the same process, interleaved with FlowBuilder's rounds
so both see the same machine:

- ``subprocess.Popen``: 8 threads, each ``Popen`` with pipes + ``communicate()`` (issue 10's
  floor);
- ``asyncio``: ``asyncio.create_subprocess_exec`` + ``communicate()`` under a semaphore of 8.

Each figure is the best of ``--rounds`` runs. The ratio is FlowBuilder's throughput over
Popen's; issue 10's goal is at least 0.95.

CPU per command, the least noisy figure on a shared machine: this process's CPU (every
thread, ``RUSAGE_SELF``) and the commands' (``RUSAGE_CHILDREN``) per command, the lowest of
the rounds; for FlowBuilder the guardian process's too (it is alive, so not in
``RUSAGE_CHILDREN``; read from ``/proc/PID/schedstat`` in nanoseconds). On 2 cores the
commands and the process that starts them share the same CPUs, so the process's own CPU
per command is what the throughput ratio follows.

"At once" is measured separately, because ``true`` ends too fast to overlap visibly: 16
commands that each append their start and end instant to a file and sleep 0.2 s in between,
run by FlowBuilder at concurrency 8; the peak number of commands between a start and an end
must be 8 (before the runner had its own daemon-thread pool, asyncio's default executor,
``min(32, cpus + 4)`` threads, held it to 6 on a 2-core machine).

Run: ``python bench/shell.py [--count 200] [--concurrency 8] [--rounds 5] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

GOAL_RATIO = 0.95
COMMAND = ["/bin/sh", "-c", "true"]


def popen_floor(count: int, concurrency: int) -> float:
    """Popen + communicate, ``concurrency`` at a time (a thread per slot drains the pipes)."""

    def one(_: int) -> int:
        process = subprocess.Popen(COMMAND, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.communicate()
        return process.returncode

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    assert not any(codes)
    return elapsed


def asyncio_floor(count: int, concurrency: int) -> float:
    """asyncio.create_subprocess_exec + communicate under a semaphore of ``concurrency``."""

    async def main() -> list[int | None]:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> int | None:
            async with gate:
                process = await asyncio.create_subprocess_exec(
                    *COMMAND, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
                )
                await process.communicate()
                return process.returncode

        return await asyncio.gather(*(one() for _ in range(count)))

    started = time.perf_counter()
    codes = asyncio.run(main())
    elapsed = time.perf_counter() - started
    assert not any(codes)
    return elapsed


def _run_shell_tasks(commands: list[str], concurrency: int) -> float:
    from flowbuilder.compiler import compile_workflow
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.model import Workflow
    from flowrunner import LocalRunner
    from flowrunner.tasktypes import ShellTask

    tasks = [{"name": f"t{i}", "type": "shell", "config": {"command": command}} for i, command in enumerate(commands)]
    plan = compile_workflow(Workflow.model_validate({"name": "shell", "tasks": tasks}), {"shell": ShellTask()})
    runner = LocalRunner({"shell": ShellTask()})
    started = time.perf_counter()
    result = asyncio.run(runner.run_async(RunRequest(plan=plan, concurrency=concurrency)))
    elapsed = time.perf_counter() - started
    assert result.succeeded
    return elapsed


def flowbuilder(count: int, concurrency: int) -> float:
    """One run of ``count`` ``shell`` tasks running ``true`` at ``concurrency`` (run phase only)."""
    return _run_shell_tasks(["true"] * count, concurrency)


def peak_at_once(concurrency: int, commands: int = 16, sleep: float = 0.2) -> int:
    """The most FlowBuilder shell commands alive at one instant, from their own start/end stamps."""
    with tempfile.TemporaryDirectory() as folder:
        stamp = 'python3 -c "import time; print(time.time())"'
        command = f'echo "start $({stamp})" >> {folder}/$$; sleep {sleep}; echo "end $({stamp})" >> {folder}/$$'
        _run_shell_tasks([command] * commands, concurrency)
        edges: list[tuple[float, int]] = []
        for name in os.listdir(folder):
            with open(os.path.join(folder, name)) as stamps:
                for line in stamps:
                    kind, instant = line.split()
                    edges.append((float(instant), 1 if kind == "start" else -1))
    running = peak = 0
    for _, step in sorted(edges):  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


def _guardian_cpu() -> float:
    """CPU seconds of the runner's guardian process so far (0 before it starts, or off Linux)."""
    from flowrunner._process import GUARDIAN

    process = GUARDIAN.process
    if process is None:
        return 0.0
    try:
        with open(f"/proc/{process.pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def _cpu() -> tuple[float, float, float]:
    """(this process, its finished children, the guardian): CPU seconds so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime, _guardian_cpu()


def _timed(run: Any, count: int, concurrency: int, cpu: dict[str, list[float]], name: str) -> float:
    before = _cpu()
    elapsed = run(count, concurrency)
    after = _cpu()
    own, children, guardian = (b - a for a, b in zip(before, after, strict=True))
    per = cpu.setdefault(name, [float("inf")] * 3)
    per[0] = min(per[0], (own + guardian) / count)
    per[1] = min(per[1], children / count)
    per[2] = min(per[2], guardian / count)
    return float(elapsed)


def measure(count: int, concurrency: int, rounds: int) -> dict[str, Any]:
    flowbuilder(min(count, 20), concurrency)  # warm-up: imports, the guardian process, threads
    popen_floor(min(count, 20), concurrency)
    asyncio_floor(min(count, 20), concurrency)
    best = {"flowbuilder": float("inf"), "popen": float("inf"), "asyncio": float("inf")}
    cpu: dict[str, list[float]] = {}
    rows = (("flowbuilder", flowbuilder), ("popen", popen_floor), ("asyncio", asyncio_floor))
    for _ in range(rounds):  # interleaved: each round runs every row once
        for name, run in rows:
            best[name] = min(best[name], _timed(run, count, concurrency, cpu, name))
    ratio = best["popen"] / best["flowbuilder"]
    return {
        "count": count,
        "concurrency": concurrency,
        "rounds": rounds,
        "seconds": best,
        "commands_per_second": {name: count / seconds for name, seconds in best.items()},
        "cpu_us_per_command": {
            name: {"process": own * 1e6, "commands": children * 1e6, "of_which_guardian": guardian * 1e6}
            for name, (own, children, guardian) in cpu.items()
        },
        "ratio_vs_popen": ratio,
        "ratio_vs_asyncio": best["asyncio"] / best["flowbuilder"],
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio >= GOAL_RATIO,
        "peak_at_once": peak_at_once(concurrency),
    }


def report(figures: dict[str, Any]) -> None:
    count, concurrency = figures["count"], figures["concurrency"]
    seconds, rates = figures["seconds"], figures["commands_per_second"]
    print(f"{count} x `/bin/sh -c true` at concurrency {concurrency}, best of {figures['rounds']} interleaved rounds:")
    rows = (
        ("flowbuilder shell tasks", "flowbuilder"),
        ("floor: subprocess.Popen", "popen"),
        ("floor: asyncio subprocess", "asyncio"),
    )
    cpu = figures["cpu_us_per_command"]
    for label, key in rows:
        print(
            f"  {label:27} {rates[key]:7.0f} commands/s  ({seconds[key]:.3f} s)"
            f"   CPU per command: process {cpu[key]['process']:4.0f} µs, command {cpu[key]['commands']:4.0f} µs"
        )
    print(f"  (FlowBuilder's process CPU includes its guardian's: {cpu['flowbuilder']['of_which_guardian']:.0f} µs)")
    print(f"  ratio vs Popen   {figures['ratio_vs_popen']:5.2f}   (FlowBuilder throughput / Popen's)")
    print(f"  ratio vs asyncio {figures['ratio_vs_asyncio']:5.2f}")
    verdict = "met" if figures["goal_met"] else "NOT met"
    print(f"  issue 10 goal: >= {GOAL_RATIO:.2f} x Popen -> {verdict}")
    print(f"  at once: {figures['peak_at_once']} of {concurrency} (16 x `sleep 0.2`, start/end stamps of the commands)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="commands per run (default 200)")
    parser.add_argument("--concurrency", type=int, default=8, help="commands at once (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; best kept (default 5)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()
    figures = measure(options.count, options.concurrency, options.rounds)
    if options.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)


if __name__ == "__main__":
    main()
