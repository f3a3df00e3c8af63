"""The run's timing breakdown (issue 10, "Beyond the peers"): recorded once, consistent, by cause.

No test here asserts how long anything took: they check that the breakdown exists in
``run_finished`` (one event, no per-task ones), that its parts fit inside the run's wall
time, and that queue wait is charged to the cause that held the tasks back (the run's
concurrency, a pool, a task type's limit, a higher priority).
"""

from __future__ import annotations

import asyncio
from typing import Any

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces import RunRequest
from flowbuilder.stores.memory import MemoryStore
from flowbuilder_contracts.runner import compile_yaml
from flowbuilder_contracts.runner_tasks import contract_task_types
from flowrunner import LocalRunner
from flowrunner.scheduling.timing import CAUSES

SLEEP = 0.05


def _sleepers(count: int, extra: str = "", prefix: str = "s", priority: int | None = None) -> list[str]:
    lines = []
    for i in range(count):
        pri = f", priority: {priority}" if priority is not None else ""
        lines.append(f"  - {{name: {prefix}{i}, type: contract_sleep, config: {{seconds: {SLEEP}}}{extra}{pri}}}")
    return lines


def _run(text: str, **runner_options: Any) -> tuple[dict[str, Any], list[RunEvent]]:
    types = contract_task_types()
    runner = LocalRunner(types, **runner_options)
    store = MemoryStore.open("memory://test-run-timing")
    try:
        result = asyncio.run(
            asyncio.wait_for(runner.run_async(RunRequest(plan=compile_yaml(text, types), store=store)), 60)
        )
        events = store.read_events(result.run_id)
    finally:
        MemoryStore.forget("memory://test-run-timing")
    finished = [event for event in events if event.kind is EventKind.RUN_FINISHED]
    assert len(finished) == 1
    return dict(finished[0].data["timing"]), events


def _assert_consistent(timing: dict[str, Any], attempts: int) -> None:
    assert timing["v"] == 1
    assert timing["attempts"] == attempts
    total = timing["total"]
    assert total > 0
    parts = timing["dispatch"] + timing["store_writes"] + timing["sinks"] + timing["inline_bodies"]
    assert 0 <= parts <= total
    for key in ("dispatch", "store_writes", "sinks", "inline_bodies", "task_bodies"):
        assert timing[key] >= 0, key
    queue = timing["queue_wait"]
    assert set(queue) == {"total", *CAUSES}
    assert all(value >= 0 for value in queue.values())
    assert abs(sum(queue[cause] for cause in CAUSES) - queue["total"]) <= 1e-6 * max(1.0, queue["total"])


def test_run_finished_carries_one_consistent_breakdown_and_no_task_event_does() -> None:
    text = "\n".join(["name: timed", "tasks:", *_sleepers(6)]) + "\n"
    timing, events = _run(text)
    _assert_consistent(timing, attempts=6)
    assert timing["task_bodies"] >= 6 * SLEEP * 0.9  # six sleeps, summed
    assert timing["inline_bodies"] == 0  # async bodies run off the scheduler's steps
    assert not any("timing" in event.data for event in events if event.kind is not EventKind.RUN_FINISHED)
    assert timing["queue_wait"]["concurrency"] == 0  # the default limit left room for all six


def test_queue_wait_is_charged_to_the_run_concurrency() -> None:
    text = "\n".join(["name: narrow", "concurrency: 1", "tasks:", *_sleepers(4)]) + "\n"
    timing, _ = _run(text)
    _assert_consistent(timing, attempts=4)
    queue = timing["queue_wait"]
    # Four one-at-a-time sleeps: the later ones waited 1 + 2 + 3 sleeps for the run's one slot.
    assert queue["concurrency"] >= 6 * SLEEP * 0.8
    assert queue["concurrency"] > 0.8 * queue["total"]
    assert queue["pool"] == 0 and queue["type_limit"] == 0


def test_queue_wait_of_a_fan_out_made_ready_at_once_is_charged_to_the_run_concurrency() -> None:
    """Tasks made ready together (one ``push_many``: the ready queue's sorted batch) count as queued."""
    text = "\n".join(["name: fanned", "concurrency: 1", "tasks:",
                      f"  - {{name: root, type: contract_sleep, config: {{seconds: {SLEEP}}}}}",
                      *_sleepers(4, extra=", depends_on: [root]")]) + "\n"  # fmt: skip
    timing, _ = _run(text)
    _assert_consistent(timing, attempts=5)
    queue = timing["queue_wait"]
    assert queue["concurrency"] >= 6 * SLEEP * 0.8  # the later three waited 1 + 2 + 3 sleeps for the one slot
    assert queue["concurrency"] > 0.8 * queue["total"]


def test_queue_wait_is_charged_to_a_full_pool_not_the_run() -> None:
    text = "\n".join(["name: pooled", "concurrency: 8", "pools: {narrow: 1}", "tasks:",
                      *_sleepers(4, extra=", pool: narrow")]) + "\n"  # fmt: skip
    timing, _ = _run(text)
    _assert_consistent(timing, attempts=4)
    queue = timing["queue_wait"]
    assert queue["pool"] >= 6 * SLEEP * 0.8
    assert queue["concurrency"] == 0


def test_queue_wait_is_charged_to_a_task_type_limit() -> None:
    text = "\n".join(["name: typed", "concurrency: 8", "tasks:", *_sleepers(3)]) + "\n"
    timing, _ = _run(text, type_limits={"contract_sleep": 1})
    _assert_consistent(timing, attempts=3)
    queue = timing["queue_wait"]
    assert queue["type_limit"] >= 3 * SLEEP * 0.8
    assert queue["pool"] == 0


def test_lower_priority_tasks_waiting_behind_higher_ones_are_charged_to_priority() -> None:
    text = "\n".join(["name: ranked", "concurrency: 1", "tasks:", *_sleepers(2, prefix="high", priority=10),
                      *_sleepers(2, prefix="low", priority=0)]) + "\n"  # fmt: skip
    timing, _ = _run(text)
    _assert_consistent(timing, attempts=4)
    queue = timing["queue_wait"]
    assert queue["priority"] > 0
    assert queue["concurrency"] > 0


def test_inline_bodies_are_part_of_the_scheduler_thread_time() -> None:
    lines = ["name: inline", "tasks:"]
    lines += [f"  - {{name: v{i}, type: contract_value, config: {{value: {i}}}}}" for i in range(50)]
    timing, _ = _run("\n".join(lines) + "\n")
    _assert_consistent(timing, attempts=50)
    assert timing["task_bodies"] == timing["inline_bodies"]  # every attempt ran inline
