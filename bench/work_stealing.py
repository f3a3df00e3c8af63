"""Load-balancing benchmark: an unbalanced CPU-bound DAG on 2 worker processes.

(The file keeps its old name; the pool no longer pretends to steal work, see
``flowrunner._workers``.) The DAG: 3 long tasks (300 ms of CPU each), each followed by a
short one, among 30 independent short tasks (20 ms each). Lower bound of the makespan on 2
workers: ``max(critical path, total work / 2)``. FlowBuilder runs them as ``python`` tasks
with ``isolation: process`` (the runner's worker pool: one FIFO queue in dispatch order, a
free worker takes the oldest job; the ready queue puts the critical path first). The
baseline, in the same run, is a plain ``ProcessPoolExecutor(2)`` fed by a minimal in-degree
loop (submit when ready, in file order). Both pools are warmed up first, so process start-up
is not counted. Prints makespan, the lower bound, their ratio (aim: under 1.15), and how
many jobs each worker ran (an even split is what balancing is for).

Run: ``python bench/work_stealing.py``.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

LONG, SHORT, LONG_TASKS, SHORT_TASKS, WORKERS = 0.300, 0.020, 3, 30, 2


def burn(seconds: float) -> float:
    """Spin the CPU for ``seconds`` of wall-clock time.

    Wall-clock, not CPU time: on a machine shared with other work a CPU-time loop would
    stretch with the contention and the makespan would measure the neighbours, not the
    scheduling. A wall-clock spin keeps each task's length fixed and still occupies a core.
    """
    end = time.perf_counter() + seconds
    spins = 0
    while time.perf_counter() < end:
        spins += 1
    return seconds


def dag() -> list[dict]:
    """The short tasks come first in file order, so FIFO scheduling meets the long ones last."""
    tasks = [{"name": f"short{i}", "seconds": SHORT, "depends_on": []} for i in range(SHORT_TASKS)]
    for i in range(LONG_TASKS):
        tasks.append({"name": f"long{i}", "seconds": LONG, "depends_on": []})
        tasks.append({"name": f"after{i}", "seconds": SHORT, "depends_on": [f"long{i}"]})
    return tasks


def lower_bound(tasks: list[dict]) -> float:
    total = sum(t["seconds"] for t in tasks)
    return max(LONG + SHORT, total / WORKERS)


def flowbuilder(tasks: list[dict]) -> tuple[float, list[int]]:
    from flowbuilder.compiler import compile_workflow
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.model import Workflow
    from flowrunner import LocalRunner
    from flowrunner.tasktypes import PythonTask

    spec = {"name": "unbalanced", "tasks": [
        {"name": t["name"], "type": "python", "depends_on": t["depends_on"],
         "config": {"callable": "work_stealing:burn", "args": [t["seconds"]], "isolation": "process"}} for t in tasks]}  # fmt: skip
    warm = {"name": "warm", "tasks": [{"name": f"w{i}", "type": "python",
            "config": {"callable": "work_stealing:burn", "args": [0.01], "isolation": "process"}} for i in range(4)]}  # fmt: skip
    types = {"python": PythonTask()}
    runner = LocalRunner(types, workers=WORKERS)

    async def main() -> tuple[float, list[int]]:
        await runner.run_async(RunRequest(plan=compile_workflow(Workflow.model_validate(warm), types)))
        before = runner.worker_pool().completed_per_worker
        plan = compile_workflow(Workflow.model_validate(spec), types)
        started = time.perf_counter()
        result = await runner.run_async(RunRequest(plan=plan))
        assert result.succeeded, result.status
        makespan = time.perf_counter() - started
        after = runner.worker_pool().completed_per_worker
        return makespan, [done - earlier for done, earlier in zip(after, before, strict=True)]

    try:
        return asyncio.run(main())
    finally:
        runner.close_workers()


def baseline(tasks: list[dict]) -> float:
    by_name = {t["name"]: t for t in tasks}
    dependents: dict[str, list[str]] = {t["name"]: [] for t in tasks}
    waiting = {t["name"]: len(t["depends_on"]) for t in tasks}
    for t in tasks:
        for dep in t["depends_on"]:
            dependents[dep].append(t["name"])
    with ProcessPoolExecutor(WORKERS) as pool:
        list(pool.map(burn, [0.01] * 4))  # warm-up
        started = time.perf_counter()
        running = {pool.submit(burn, by_name[n]["seconds"]): n for n, c in waiting.items() if c == 0}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                for dependent in dependents[name]:
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        running[pool.submit(burn, by_name[dependent]["seconds"])] = dependent
        return time.perf_counter() - started


def main() -> None:
    tasks = dag()
    bound = lower_bound(tasks)
    fb, per_worker = flowbuilder(tasks)
    base = baseline(tasks)
    print(f"unbalanced DAG: {LONG_TASKS} x {LONG * 1000:.0f} ms (+1 short each) among {SHORT_TASKS} x {SHORT * 1000:.0f} ms,"
          f" {WORKERS} workers; lower bound {bound:.3f}s")  # fmt: skip
    jobs = "/".join(str(count) for count in per_worker)
    print(f"  flowbuilder  makespan {fb:.3f}s  ratio {fb / bound:.3f}  (jobs per worker: {jobs})")
    print(f"  baseline     makespan {base:.3f}s  ratio {base / bound:.3f}  (ProcessPoolExecutor, FIFO in-degree loop)")


if __name__ == "__main__":
    main()
