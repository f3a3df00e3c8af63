"""Chain benchmark: 1,000 no-op `python` tasks, each depending on the previous one.

Dispatch latency is the time from a task's dependency finishing to the task starting. For
FlowBuilder it is read from the run's own events (``task_succeeded`` of task i-1 to
``task_started`` of task i, both stamped by the scheduler); for the baseline, a minimal
hand-written in-degree loop over the same chain, it is the time from one call returning to
the next call starting. Both are printed as P50 / P99 / max in microseconds.

Run: ``python bench/chain.py [LENGTH]`` (default 1000).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import deque


def noop() -> None:
    """The task body both sides call."""


def build_plan(length: int):  # type: ignore[no-untyped-def]
    from flowbuilder.compiler import compile_workflow
    from flowbuilder.model import Workflow
    from flowrunner.tasktypes import PythonTask

    config = {"callable": "chain:noop"}
    tasks = [{"name": "t0", "type": "python", "config": config}]
    tasks += [
        {"name": f"t{i}", "type": "python", "depends_on": [f"t{i - 1}"], "config": config} for i in range(1, length)
    ]
    return compile_workflow(Workflow.model_validate({"name": "chain", "tasks": tasks}), {"python": PythonTask()})


def baseline_latencies(successors, indegree) -> list[float]:  # type: ignore[no-untyped-def]
    waiting = list(indegree)
    ready = deque(i for i, count in enumerate(waiting) if count == 0)
    finished_at: dict[int, float] = {}
    latencies = []
    predecessor = {s: i for i, succ in enumerate(successors) for s in succ}
    clock = time.perf_counter
    while ready:
        task = ready.popleft()
        started = clock()
        if task in predecessor:
            latencies.append(started - finished_at[predecessor[task]])
        noop()
        finished_at[task] = clock()
        for successor in successors[task]:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                ready.append(successor)
    return latencies


def flowbuilder_latencies(plan) -> list[float]:  # type: ignore[no-untyped-def]
    from flowbuilder.events import EventKind
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.stores.memory import MemoryStore
    from flowrunner import LocalRunner
    from flowrunner.tasktypes import PythonTask

    store = MemoryStore.open("memory://bench-chain")
    holder = []

    async def main() -> None:
        holder.append(await LocalRunner({"python": PythonTask()}).run_async(RunRequest(plan=plan, store=store)))

    asyncio.run(main())
    events = store.read_events(holder[0].run_id)
    store.delete_run(holder[0].run_id)
    finished = {e.task: e.time for e in events if e.kind is EventKind.TASK_SUCCEEDED}
    latencies = []
    for event in events:
        if event.kind is EventKind.TASK_STARTED and event.task != "t0":
            latencies.append(event.time - finished[f"t{int(event.task[1:]) - 1}"])
    return latencies


def percentiles(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"P50 {cuts[49] * 1e6:8.2f} us   P99 {cuts[98] * 1e6:8.2f} us   max {max(values) * 1e6:8.2f} us"


def main(length: int) -> None:
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    plan = build_plan(length)
    flowbuilder_latencies(plan)  # warm-up
    fb = flowbuilder_latencies(plan)
    base = baseline_latencies(plan.successors, plan.indegree)
    print(f"chain of {length} no-op python tasks: dispatch latency (dependency finished -> task started)")
    print(f"  flowbuilder  {percentiles(fb)}")
    print(f"  baseline     {percentiles(base)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
