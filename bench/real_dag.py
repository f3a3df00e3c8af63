"""Benchmark: the span of scientific-workflow-shaped DAGs against an ideal list schedule.

    python bench/real_dag.py                          # 1,000 / 5,000 / 20,000 tasks, 4 s ideal
    python bench/real_dag.py --sizes 1000,5000 --target 1 --json

Issue 10's figure "span / ideal list schedule, 20K-task real DAG, P=8". The DAGs are
generated here from a seeded random generator (no network, no WfCommons download) in two
shapes modelled on WfCommons' recipes:

* ``montage``: a wide projection stage, pairwise difference tasks each reading 2 of its
  tiles, a fit per difference, one concatenation of every fit (a join of thousands), a
  background model, a wide correction stage reading the model and its tile, and a
  short tail of adds;
* ``epigenomics``: lanes split from one root, each lane a chain of four steps
  (filter, convert, map, merge-lane), joined by a global merge, then an index and a
  per-chromosome fan-out.

Task runtimes are lognormal (seeded). A zero-overhead list scheduler with 8 slots is
simulated on them: whenever a slot is free it starts the ready task with the longest
remaining path (FlowBuilder's own default order), so the ideal has the same policy and no
cost per task. The runtimes are then scaled so that this ideal schedule takes ``--target``
seconds (a list schedule scales exactly with its runtimes); the critical path is printed
beside it. With thousands of tasks on 8 slots the work, not the critical path, bounds the
span, so scaling the ideal makespan (not the critical path, which would make a 20,000-task
run take minutes) keeps each run a few seconds long while the per-task overhead shows.

FlowBuilder runs the same DAG as ``python`` tasks calling ``asyncio.sleep(runtime)`` at
concurrency 8 (memory store), on the loop its synchronous entry points choose
(:func:`flowbuilder.event_loop.run_coroutine`: by default asyncio's loop with precise
timers); its span is the run's own start-to-finish time. The ratio span / ideal is the
figure; the goals are at most 1.10 at 20,000 tasks and 1.05 up to 5,000. Beside it, the
same DAG on a minimal hand-written asyncio scheduler on the same loop (``floor`` column):
no scheduler on that loop can beat it, so span / floor is the engine's own share; and the
same floor on asyncio's stock loop (``stock`` column), whose millisecond-rounded waits
make every millisecond-scale sleep overshoot (what the precise timers remove).
``FLOWBUILDER_EVENT_LOOP`` chooses the loop as for a run (``asyncio-stock``, ``uvloop``);
``--uvloop`` is short for ``FLOWBUILDER_EVENT_LOOP=uvloop`` (uvloop is not a dependency).
Needs flowrunner.

``--cpu`` prints, instead of spans, the CPU time per task of the scheduler's thread (the
thread that runs the loop: ``time.thread_time``) for the same run and for the floor, the
median of ``--rounds`` interleaved runs each (default 3): the orchestration an ``async`` task
costs the loop, from becoming ready to its coroutine starting and from its end to its
successors being ready, with the loop's own timer and task-switching work in both. Their
difference is the engine's own share per task; unlike the span, it hardly moves with the
machine's load, so a before/after of the await path reads best here.

    python bench/real_dag.py --cpu --sizes 5000,20000 --target 1 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import statistics
import sys
import time
from typing import Any

SLOTS = 8
GOAL_SMALL = 1.05  # up to 5,000 tasks
GOAL_LARGE = 1.10  # 20,000 tasks
SHAPES = ("montage", "epigenomics")


def generate(shape: str, tasks: int, seed: int = 10) -> tuple[list[list[int]], list[float]]:
    """``(predecessors of each task, raw runtime of each task)`` of a ``shape`` DAG of about ``tasks`` tasks."""
    rng = random.Random(f"{shape}-{tasks}-{seed}")
    preds: list[list[int]] = []

    def add(depends: list[int]) -> int:
        preds.append(depends)
        return len(preds) - 1

    if shape == "montage":
        tiles = max(2, tasks // 4)
        projected = [add([]) for _ in range(tiles)]
        diffs = [add(rng.sample(projected, 2)) for _ in range(tiles)]
        fits = [add([diff]) for diff in diffs]
        concat = add(fits)
        model = add([concat])
        corrected = [add([model, tile]) for tile in projected[: max(1, tasks - len(preds) - 4)]]
        add_tasks = [add(corrected[i::3]) for i in range(3)]
        add(add_tasks)
    elif shape == "epigenomics":
        root = add([])
        lanes = max(1, (tasks - 3) // 5)
        ends = []
        for _ in range(lanes):
            previous = root
            for _step in range(4):
                previous = add([previous])
            ends.append(previous)
        merged = add(ends)
        index = add([merged])
        while len(preds) < tasks:
            add([index])
    else:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    runtimes = [rng.lognormvariate(0.0, 0.8) for _ in preds]
    return preds, runtimes


def successors_of(preds: list[list[int]]) -> list[list[int]]:
    succs: list[list[int]] = [[] for _ in preds]
    for task, depends in enumerate(preds):
        for upstream in depends:
            succs[upstream].append(task)
    return succs


def remaining_paths(preds: list[list[int]], runtimes: list[float]) -> list[float]:
    """Each task's longest path to the end, itself included (tasks are in topological order)."""
    succs = successors_of(preds)
    remaining = [0.0] * len(preds)
    for task in range(len(preds) - 1, -1, -1):
        remaining[task] = runtimes[task] + max((remaining[s] for s in succs[task]), default=0.0)
    return remaining


def ideal_makespan(preds: list[list[int]], runtimes: list[float], slots: int = SLOTS) -> float:
    """A zero-overhead list schedule on ``slots`` slots, longest remaining path first."""
    succs = successors_of(preds)
    remaining = remaining_paths(preds, runtimes)
    waiting = [len(depends) for depends in preds]
    ready = [(-remaining[t], t) for t, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []
    now = 0.0
    while ready or running:
        while ready and len(running) < slots:
            _, task = heapq.heappop(ready)
            heapq.heappush(running, (now + runtimes[task], task))
        now, task = heapq.heappop(running)
        for successor in succs[task]:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                heapq.heappush(ready, (-remaining[successor], successor))
    return now


def build_plan(preds: list[list[int]], runtimes: list[float]) -> Any:
    from flowbuilder.compiler import compile_workflow
    from flowbuilder.model import Workflow
    from flowrunner.tasktypes import PythonTask

    tasks = []
    for task, depends in enumerate(preds):
        entry: dict[str, Any] = {"name": f"t{task}", "type": "python",
                                 "config": {"callable": "asyncio:sleep", "args": [round(runtimes[task], 6)]}}  # fmt: skip
        if depends:
            entry["depends_on"] = [f"t{upstream}" for upstream in depends]
        tasks.append(entry)
    workflow = Workflow.model_validate({"name": "real-dag", "concurrency": SLOTS, "tasks": tasks})
    return compile_workflow(workflow, {"python": PythonTask()})


def flowbuilder_span(plan: Any) -> float:
    """The run's own start-to-finish time (memory store, concurrency 8), on the engine's loop."""
    return flowbuilder_run(plan)[0]


def flowbuilder_run(plan: Any) -> tuple[float, float]:
    """``(span, CPU seconds of this thread)`` of one run of ``plan`` (see :func:`flowbuilder_span`);
    the CPU time covers the whole synchronous call (loop made, run, loop closed)."""
    from flowbuilder.event_loop import run_coroutine
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.stores.memory import MemoryStore
    from flowrunner import LocalRunner
    from flowrunner.tasktypes import PythonTask

    url = "memory://bench-real-dag"
    store = MemoryStore.open(url)
    try:
        runner = LocalRunner({"python": PythonTask()})
        cpu = time.thread_time()
        result = run_coroutine(runner.run_async(RunRequest(plan=plan, store=store, concurrency=SLOTS)))
        cpu = time.thread_time() - cpu
        assert result.succeeded, result.status
        return result.finished_at - result.started_at, cpu
    finally:
        MemoryStore.forget(url)


def asyncio_floor_span(preds: list[list[int]], runtimes: list[float], slots: int = SLOTS, *,
                       stock: bool = False) -> float:  # fmt: skip
    """:func:`asyncio_floor_run`'s span."""
    return asyncio_floor_run(preds, runtimes, slots, stock=stock)[0]


def asyncio_floor_run(preds: list[list[int]], runtimes: list[float], slots: int = SLOTS, *,
                      stock: bool = False) -> tuple[float, float]:  # fmt: skip
    """``(span, CPU seconds of this thread)`` of the same DAG on a minimal hand-written asyncio scheduler (in-degree countdown, 8 at a
    time, longest remaining path first): what the loop's own timers and task switches cost,
    which no scheduler on that loop can beat. On the engine's loop, or with ``stock`` on
    asyncio's stock loop (``asyncio.run``), where ``asyncio.sleep`` wakes on millisecond-rounded
    ``epoll`` timeouts, so millisecond tasks overshoot."""
    from flowbuilder.event_loop import loop_factory

    succs = successors_of(preds)
    remaining = remaining_paths(preds, runtimes)

    async def run() -> None:
        waiting = [len(depends) for depends in preds]
        ready = [(-remaining[t], t) for t, count in enumerate(waiting) if count == 0]
        heapq.heapify(ready)
        ended: asyncio.Queue[int] = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()

        async def one(task: int) -> None:
            await asyncio.sleep(runtimes[task])
            ended.put_nowait(task)

        running = finished = 0
        while finished < len(preds):
            while ready and running < slots:
                job = asyncio.ensure_future(one(heapq.heappop(ready)[1]))
                tasks.add(job)
                job.add_done_callback(tasks.discard)
                running += 1
            task = await ended.get()
            running -= 1
            finished += 1
            for successor in succs[task]:
                waiting[successor] -= 1
                if waiting[successor] == 0:
                    heapq.heappush(ready, (-remaining[successor], successor))

    cpu = time.thread_time()
    started = time.perf_counter()
    with asyncio.Runner(loop_factory=None if stock else loop_factory()) as runner:
        runner.run(run())
    return time.perf_counter() - started, time.thread_time() - cpu


def goal_for(tasks: int) -> float:
    return GOAL_SMALL if tasks <= 5_000 else GOAL_LARGE


def scaled_dag(shape: str, size: int, seed: int, target: float) -> tuple[list[list[int]], list[float]]:
    """The generated DAG's predecessors and its runtimes scaled so that the ideal span is ``target``."""
    preds, raw = generate(shape, size, seed)
    scale = target / ideal_makespan(preds, raw)
    return preds, [runtime * scale for runtime in raw]


def measure(sizes: list[int], target: float, shapes: tuple[str, ...] = SHAPES, rounds: int = 1,
            seed: int = 10) -> list[dict[str, Any]]:  # fmt: skip
    """One row per (size, shape): tasks, critical path, ideal, best span of ``rounds``, ratio, goal."""
    rows = []
    for size in sizes:
        for shape in shapes:
            preds, runtimes = scaled_dag(shape, size, seed, target)
            ideal = ideal_makespan(preds, runtimes)
            critical = max(remaining_paths(preds, runtimes))
            plan = build_plan(preds, runtimes)
            span = floor = stock = float("inf")
            for _ in range(rounds):  # interleaved, best of each
                span = min(span, flowbuilder_span(plan))
                floor = min(floor, asyncio_floor_span(preds, runtimes))
                stock = min(stock, asyncio_floor_span(preds, runtimes, stock=True))
            rows.append({"tasks": len(preds), "shape": shape, "critical_path": critical, "ideal": ideal,
                         "asyncio_floor": floor, "stock_asyncio_floor": stock, "span": span, "ratio": span / ideal,
                         "ratio_to_asyncio_floor": span / floor, "goal": goal_for(len(preds))})  # fmt: skip
    return rows


def measure_cpu(sizes: list[int], target: float, shapes: tuple[str, ...] = SHAPES, rounds: int = 3,
                seed: int = 10) -> list[dict[str, Any]]:  # fmt: skip
    """One row per (size, shape): the scheduler thread's CPU per task of FlowBuilder's run and of the
    floor on the same loop, medians of ``rounds`` interleaved runs, in microseconds."""
    rows = []
    warm_preds, _ = generate(shapes[0], 30, seed)  # the run's lazy imports, left out of the first round
    warm_runtimes = [0.0] * len(warm_preds)
    flowbuilder_run(build_plan(warm_preds, warm_runtimes))
    asyncio_floor_run(warm_preds, warm_runtimes)
    for size in sizes:
        for shape in shapes:
            preds, runtimes = scaled_dag(shape, size, seed, target)
            plan = build_plan(preds, runtimes)
            ours: list[float] = []
            floors: list[float] = []
            for _ in range(rounds):
                ours.append(flowbuilder_run(plan)[1])
                floors.append(asyncio_floor_run(preds, runtimes)[1])
            per_task = statistics.median(ours) / len(preds) * 1e6
            floor = statistics.median(floors) / len(preds) * 1e6
            rows.append({"tasks": len(preds), "shape": shape, "cpu_us_per_task": per_task,
                         "floor_cpu_us_per_task": floor, "own_us_per_task": per_task - floor,
                         "ratio_to_floor": per_task / floor, "rounds": rounds})  # fmt: skip
    return rows


def print_cpu(rows: list[dict[str, Any]], target: float, loop: str) -> None:
    print(f"CPU of the scheduler's thread per task (median of {rows[0]['rounds'] if rows else 0} interleaved runs),"
          f" the same DAGs (asyncio.sleep tasks, concurrency {SLOTS}, {target:g} s ideal schedule), on {loop}")  # fmt: skip
    print(f"{'tasks':>7} {'shape':<12} {'floor us':>9} {'us/task':>8} {'own us':>7} {'/floor':>7}")
    for row in rows:
        print(f"{row['tasks']:>7} {row['shape']:<12} {row['floor_cpu_us_per_task']:>9.1f} {row['cpu_us_per_task']:>8.1f}"
              f" {row['own_us_per_task']:>7.1f} {row['ratio_to_floor']:>7.2f}")  # fmt: skip
    print("floor: the hand-written asyncio scheduler on the same loop; own: FlowBuilder's CPU per task over it")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000", help="task counts, comma-separated")
    parser.add_argument("--target", type=float, default=4.0, help="seconds of the ideal schedule (default 4)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated: montage, epigenomics")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="runs per DAG: the best span kept (default 1), or with --cpu the median (default 3)",
    )
    parser.add_argument("--cpu", action="store_true",
                        help="the scheduler thread's CPU per task beside the floor's, instead of the span")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--uvloop", action="store_true", help="run both sides on uvloop's loop (if installed)")
    options = parser.parse_args(argv)
    if options.uvloop:
        os.environ["FLOWBUILDER_EVENT_LOOP"] = "uvloop"  # not a dependency: `pip install uvloop`
    from flowbuilder._precise_wait import new_precise_loop
    from flowbuilder.event_loop import loop_factory

    factory = loop_factory()
    loop = ("asyncio's stock loop" if factory is None else
            "asyncio's loop with precise timers" if factory is new_precise_loop else "uvloop's loop")  # fmt: skip
    sizes = [int(size) for size in options.sizes.split(",")]
    shapes = tuple(options.shapes.split(","))
    if options.cpu:
        cpu_rows = measure_cpu(sizes, options.target, shapes, options.rounds or 3)
        if options.json:
            print(json.dumps(cpu_rows, indent=1))
        else:
            print_cpu(cpu_rows, options.target, loop)
        return 0
    rows = measure(sizes, options.target, shapes, options.rounds or 1)
    if options.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"span of generated WfCommons-shaped DAGs at concurrency {SLOTS} (asyncio.sleep tasks), vs an ideal "
          f"zero-overhead list schedule scaled to {options.target:g} s, on {loop}")  # fmt: skip
    print(f"{'tasks':>7} {'shape':<12} {'critical s':>10} {'ideal s':>8} {'stock s':>8} {'floor s':>8} {'span s':>8}"
          f" {'/ideal':>7} {'/floor':>7} {'goal':>6}")  # fmt: skip
    for row in rows:
        verdict = "met" if row["ratio"] <= row["goal"] else "missed"
        print(f"{row['tasks']:>7} {row['shape']:<12} {row['critical_path']:>10.2f} {row['ideal']:>8.2f}"
              f" {row['stock_asyncio_floor']:>8.2f} {row['asyncio_floor']:>8.2f} {row['span']:>8.2f}"
              f" {row['ratio']:>7.2f} {row['ratio_to_asyncio_floor']:>7.2f} {row['goal']:>6.2f}  {verdict}")  # fmt: skip
    print(
        f"floor: the same DAG on a minimal hand-written asyncio scheduler on {loop} (what the loop itself costs);"
        " stock: that scheduler on asyncio's stock loop (millisecond-rounded waits)"
    )
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    sys.exit(code)
