"""Shell benchmark: 500 independent `true` commands at concurrency 8.

FlowBuilder runs them as `shell` tasks (string commands, so each goes through `/bin/sh -c`,
in its own process group, with stdout/stderr captured line by line). The baseline starts
the same `/bin/sh -c true` with ``subprocess.Popen`` 8 at a time (pipes for stdout/stderr,
``communicate()`` to drain them), in the same process run. Prints commands per second and
the ratio FlowBuilder / baseline (aim: at least 0.9).

Run: ``python bench/shell.py [COUNT] [CONCURRENCY]`` (defaults 500 and 8).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def baseline(count: int, concurrency: int) -> float:
    """Popen + communicate, `concurrency` at a time (a thread per slot drains the pipes)."""

    def one(_: int) -> int:
        process = subprocess.Popen(["/bin/sh", "-c", "true"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.communicate()
        return process.returncode

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(one, range(count)))
    assert not any(codes)
    return time.perf_counter() - started


def flowbuilder(count: int, concurrency: int) -> float:
    from flowbuilder.compiler import compile_workflow
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.model import Workflow
    from flowrunner import LocalRunner
    from flowrunner.tasktypes import ShellTask

    tasks = [{"name": f"t{i}", "type": "shell", "config": {"command": "true"}} for i in range(count)]
    plan = compile_workflow(Workflow.model_validate({"name": "shell", "tasks": tasks}), {"shell": ShellTask()})
    runner = LocalRunner({"shell": ShellTask()})
    holder = []

    async def main() -> None:
        holder.append(await runner.run_async(RunRequest(plan=plan, concurrency=concurrency)))

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    assert holder[0].succeeded
    return elapsed


def main(count: int, concurrency: int) -> None:
    flowbuilder(20, concurrency)  # warm-up
    baseline(20, concurrency)
    fb = min(flowbuilder(count, concurrency) for _ in range(2))
    base = min(baseline(count, concurrency) for _ in range(2))
    print(f"{count} x `true` at concurrency {concurrency}:")
    print(f"  flowbuilder  {count / fb:8.0f} commands/s  ({fb:.2f}s)")
    print(f"  baseline     {count / base:8.0f} commands/s  ({base:.2f}s)  subprocess.Popen, {concurrency} at a time")
    print(f"  ratio        {base / fb:8.2f}  (flowbuilder throughput / baseline throughput)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500, int(sys.argv[2]) if len(sys.argv) > 2 else 8)
