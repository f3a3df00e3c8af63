"""The worker-process pool (``isolation: process``): one queue, taken in dispatch order."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from flowrunner_helpers import TASK_TYPES, plan_of

from flowbuilder.interfaces import RunRequest, RunResult
from flowrunner import LocalRunner

GUARD_SECONDS = 30.0
"""How long to wait for the free worker to run the queued jobs (a hang guard, not a measure)."""


def _call(name: str, priority: int, function: str, *args: str) -> str:
    arguments = ", ".join(f"'{argument}'" for argument in args)
    return (
        f"  - {{name: {name}, type: python, priority: {priority}, config: "
        f"{{callable: 'flowrunner_sample_callables:{function}', args: [{arguments}], isolation: process}}}}"
    )


def test_a_free_worker_takes_queued_jobs_in_the_order_they_were_dispatched(tmp_path: Path) -> None:
    """With one worker held up, the other runs every queued job, oldest first (no tail steals)."""
    gate1, gate2, log = tmp_path / "gate1", tmp_path / "gate2", tmp_path / "order.log"
    jobs = [f"j{i}" for i in range(1, 5)]
    lines = [
        _call("hold1", 100, "wait_for_file", str(gate1)),
        _call("hold2", 99, "wait_for_file", str(gate2)),
        *(_call(job, 50 - i, "append_line", str(log), job) for i, job in enumerate(jobs)),
    ]
    plan = plan_of("name: pool-order\ntasks:\n" + "\n".join(lines) + "\n")
    runner = LocalRunner(TASK_TYPES, workers=2)
    outcome: list[RunResult] = []
    thread = threading.Thread(target=lambda: outcome.append(asyncio.run(runner.run_async(RunRequest(plan=plan)))))
    thread.start()
    try:
        gate1.touch()  # one worker is free now; the other stays held by hold2
        deadline = time.monotonic() + GUARD_SECONDS
        while (not log.exists() or len(log.read_text().split()) < len(jobs)) and time.monotonic() < deadline:
            time.sleep(0.01)
        order_while_held = log.read_text().split() if log.exists() else []
    finally:
        gate2.touch()
        thread.join(GUARD_SECONDS)
        runner.close_workers()
    assert outcome and outcome[0].succeeded
    assert order_while_held == jobs
