"""Fan-out benchmark: 1 -> N no-op `python` tasks -> 1, for N = 1,000 / 10,000 / 100,000.

Prints, for each N, FlowBuilder's tasks per second and per-task cost beside a plain-Python
baseline measured in the same process: a minimal hand-written in-degree loop over the same
graph calling the same no-op. Both are measured several times, interleaved, and the best
time of each is shown (the best time is the one least disturbed by other work). "overhead" is FlowBuilder's per-task time minus the
baseline's; the ratio is FlowBuilder's per-task time over the baseline's. Compile time
(validating and planning the workflow) is shown separately: it is paid once per workflow.

Run: ``python bench/fanout.py [N ...]`` (default: 1000 10000 100000).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections import deque


def noop() -> None:
    """The task body both sides call."""


def log_line(context) -> None:  # type: ignore[no-untyped-def]
    """A task body that writes one log line (``storage_fanout.py --log-lines``)."""
    context.log("stdout", "line")


def build_plan(width: int, callable_path: str = "fanout:noop", pass_context: bool = False):  # type: ignore[no-untyped-def]
    from flowbuilder.compiler import compile_workflow
    from flowbuilder.model import Workflow
    from flowrunner.tasktypes import PythonTask

    config: dict[str, object] = {"callable": callable_path}
    if pass_context:
        config["pass_context"] = True
    tasks = [{"name": "root", "type": "python", "config": config}]
    tasks += [{"name": f"t{i}", "type": "python", "depends_on": ["root"], "config": config} for i in range(width)]
    tasks.append({"name": "sink", "type": "python", "depends_on": [f"t{i}" for i in range(width)], "config": config})
    workflow = Workflow.model_validate({"name": "fanout", "tasks": tasks})
    return compile_workflow(workflow, {"python": PythonTask()})


def baseline(successors: tuple[tuple[int, ...], ...], indegree: tuple[int, ...], function) -> float:  # type: ignore[no-untyped-def]
    """A minimal in-degree loop: pop ready, call, count successors down. Returns seconds."""
    started = time.perf_counter()
    waiting = list(indegree)
    outputs = [None] * len(waiting)
    ready = deque(i for i, count in enumerate(waiting) if count == 0)
    while ready:
        task = ready.popleft()
        outputs[task] = function()
        for successor in successors[task]:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                ready.append(successor)
    return time.perf_counter() - started


def recording_floor(successors: tuple[tuple[int, ...], ...], indegree: tuple[int, ...], function) -> float:  # type: ignore[no-untyped-def]
    """The in-degree loop that also records what the runner records per task. Returns seconds.

    Two events per task, as the runner's inline path writes them: ``task_started`` with the
    shared ``{"type": ...}`` and ``task_succeeded`` with ``{"output": ..., "duration": ...}``,
    each core's cheapest event object (``PlainRunEvent``, a msgspec Struct built in C and not
    tracked by the cycle collector; a tuple costs more, being tracked), numbered, with a clock
    read each, appended to a list (the memory store's log). Nothing else: no state fold, no
    summary, no timing, no checks. An engine that keeps a durable-shaped event log per task
    cannot go below this in CPython, so it is the floor of issue 10's per-task goal.
    """
    from flowbuilder.events import EventKind, PlainRunEvent

    started_kind, succeeded_kind = EventKind.TASK_STARTED, EventKind.TASK_SUCCEEDED
    names = [f"t{index}" for index in range(len(indegree))]
    started_data = {"type": "python"}
    clock = time.time
    started = time.perf_counter()
    log: list[PlainRunEvent] = []
    record = log.append
    seq = 0
    waiting = list(indegree)
    outputs = [None] * len(waiting)
    ready = deque(i for i, count in enumerate(waiting) if count == 0)
    while ready:
        task = ready.popleft()
        name = names[task]
        began = clock()
        seq += 1
        record(PlainRunEvent("run", seq, started_kind, name, 1, started_data, began))
        output = outputs[task] = function()
        ended = clock()
        seq += 1
        record(PlainRunEvent("run", seq, succeeded_kind, name, 1, {"output": output, "duration": ended - began}, ended))
        for successor in successors[task]:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                ready.append(successor)
    return time.perf_counter() - started


def flowbuilder_run(plan) -> float:  # type: ignore[no-untyped-def]
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.stores.memory import MemoryStore
    from flowrunner import LocalRunner
    from flowrunner.tasktypes import PythonTask

    store = MemoryStore.open(f"memory://bench-fanout-{len(plan)}")
    runner = LocalRunner({"python": PythonTask()})
    request = RunRequest(plan=plan, store=store)
    holder = []

    async def main() -> None:
        holder.append(await runner.run_async(request))

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    result = holder[0]
    assert result.succeeded, result.status
    store.delete_run(result.run_id)
    return elapsed


def main(widths: list[int]) -> None:
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    print(
        f"{'N':>8} {'compile s':>10} {'FB tasks/s':>12} {'FB us/task':>11} {'base us/task':>13} {'overhead us':>12} {'ratio':>6}"
    )
    for width in widths:
        started = time.perf_counter()
        plan = build_plan(width)
        compile_seconds = time.perf_counter() - started
        total = len(plan)
        flowbuilder_run(plan)  # warm-up: imports, caches
        fb = base = float("inf")
        for _ in range(5 if width <= 10_000 else 3):  # interleaved, best of each: robust on a busy machine
            gc.collect()
            fb = min(fb, flowbuilder_run(plan))
            base = min(base, baseline(plan.successors, plan.indegree, noop))
        fb_us, base_us = fb / total * 1e6, base / total * 1e6
        print(f"{width:>8} {compile_seconds:>10.2f} {total / fb:>12,.0f} {fb_us:>11.2f} {base_us:>13.2f}"
              f" {fb_us - base_us:>12.2f} {fb_us / base_us:>6.1f}")  # fmt: skip


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1_000, 10_000, 100_000])
