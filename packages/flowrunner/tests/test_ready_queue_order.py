"""The ready queue's ageing and retry penalty (docs/runner.md, "The ready queue").

The scheduler reads its clock through ``flowrunner._scheduler.time``; these tests replace it
with a clock they move by hand, so "a task waited ten seconds" costs no waiting and no test
depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar, Sequence

import pytest
from pydantic import BaseModel

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces import EventSink, ExecutionMode, RunRequest, TaskContext, TaskType
from flowbuilder_contracts.runner import compile_yaml
from flowbuilder_contracts.runner_tasks import contract_task_types
from flowrunner import LocalRunner, _scheduler


class HandClock:
    """Stands in for the ``time`` module inside the scheduler: ``monotonic`` moves only by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    @staticmethod
    def time() -> float:
        return time.time()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> HandClock:
    hand = HandClock()
    monkeypatch.setattr(_scheduler, "time", hand)
    return hand


class AdvanceConfig(BaseModel):
    seconds: float


def advance_clock_type(clock: HandClock) -> type[TaskType]:
    class AdvanceClock(TaskType):
        """Moves the scheduler's clock forward, as if the task had run that long."""

        name: ClassVar[str] = "advance_clock"
        config_model: ClassVar[type[BaseModel]] = AdvanceConfig
        mode: ClassVar[ExecutionMode] = ExecutionMode.INLINE

        def run(self, config: BaseModel, context: TaskContext) -> Any:
            assert isinstance(config, AdvanceConfig)
            clock.now += config.seconds
            return None

    return AdvanceClock


class StartedTasks(EventSink):
    """Keeps ``(task, attempt)`` of every ``task_started``, in order."""

    def __init__(self) -> None:
        self.started: list[tuple[str | None, int]] = []

    def handle(self, events: Sequence[RunEvent]) -> None:
        self.started.extend((e.task, e.attempt) for e in events if e.kind is EventKind.TASK_STARTED)


def start_order(text: str, clock: HandClock) -> list[tuple[str | None, int]]:
    """Run ``text`` (contract task types plus ``advance_clock``) and return the start order."""
    types = {**contract_task_types(), "advance_clock": advance_clock_type(clock)()}
    sink = StartedTasks()
    asyncio.run(asyncio.wait_for(LocalRunner(types).run_async(
        RunRequest(plan=compile_yaml(text, types), sinks=[sink])), 60))  # fmt: skip
    return sink.started


@pytest.mark.parametrize("pools", ["", "pools: {spare: 5}"], ids=["one-heap", "pooled"])
def test_a_task_that_waited_long_overtakes_a_newer_task_of_higher_priority(clock: HandClock, pools: str) -> None:
    """Ageing: one priority point per second waited (AGEING_SECONDS), so nothing starves."""
    order = start_order(f"""
name: ageing
concurrency: 1
{pools}
tasks:
  - {{name: gate, type: advance_clock, priority: 100, config: {{seconds: 10}}}}
  - {{name: old_low, type: contract_value, priority: 0}}
  - {{name: new_high, type: contract_value, priority: 5, depends_on: [gate]}}
""", clock)  # fmt: skip
    # new_high became ready 10 s after old_low: 5 - 10 < 0, so the older task goes first.
    assert order == [("gate", 1), ("old_low", 1), ("new_high", 1)]


def test_without_waiting_the_higher_priority_goes_first(clock: HandClock) -> None:
    """The same workflow when the gate takes no time: plain priority order."""
    order = start_order("""
name: ageing
concurrency: 1
tasks:
  - {name: gate, type: advance_clock, priority: 100, config: {seconds: 0}}
  - {name: old_low, type: contract_value, priority: 0}
  - {name: new_high, type: contract_value, priority: 5, depends_on: [gate]}
""", clock)  # fmt: skip
    assert order == [("gate", 1), ("new_high", 1), ("old_low", 1)]


def test_a_retried_task_yields_to_fresh_work_of_the_same_priority(clock: HandClock) -> None:
    """Retry penalty: each failed attempt costs RETRY_PENALTY points of priority.

    ``flaky`` fails at once and is re-enqueued (its 1 ms backoff timer is due before the 50 ms
    of ``hold``, on the same event loop) while ``hold`` occupies the only slot; when ``hold``
    ends, ``fresh`` (same priority, enqueued later) is ready too. Without the penalty the tie
    would go to the earlier enqueue, the retry.
    """
    order = start_order("""
name: penalty
concurrency: 1
tasks:
  - name: flaky
    type: contract_fail
    priority: 10
    config: {failures: 1}
    retry: {attempts: 2, backoff: 0.001, jitter: 0}
  - {name: hold, type: contract_sleep, priority: 9, config: {seconds: 0.05}}
  - {name: fresh, type: contract_value, priority: 10, depends_on: [hold]}
""", clock)  # fmt: skip
    assert order == [("flaky", 1), ("hold", 1), ("fresh", 1), ("flaky", 2)]


@pytest.mark.parametrize("pools", [False, True])
def test_push_many_queues_the_same_entries_as_push_one_by_one(pools: bool) -> None:
    """``push_many`` writes the heap entries out by hand (the hot path); they must stay
    :func:`priority_key`'s, for every priority, retry count, path length and wait."""
    from flowrunner.scheduling.ready_queue import ReadyQueue

    count = 12
    priorities = [(task_id % 4) - 1.5 for task_id in range(count)]
    remaining = [float(task_id % 3) * 2.5 for task_id in range(count)]
    retries = [task_id % 3 for task_id in range(count)]
    pool_of = [None if task_id % 2 else "p" for task_id in range(count)] if pools else None
    limits = {"p": 100} if pools else None
    now = [50.0]
    one = ReadyQueue(priorities, remaining, lambda: now[0], pool_of, limits)
    many = ReadyQueue(priorities, remaining, lambda: now[0], pool_of, limits)
    now[0] += 3.7  # both have waited: ageing counts
    for task_id in range(count):
        one.push(task_id, retries[task_id])
    many.push_many(list(range(count)), retries)
    assert many.heaps == one.heaps
    popped = [many.pop() for _ in range(count)]
    assert popped == [one.pop() for _ in range(count)]
    assert sorted(popped) == list(range(count))  # type: ignore[type-var]


def test_a_batch_of_push_many_pops_in_exactly_the_order_of_one_heap() -> None:
    """The sorted batch beside the heap (no pools, one priority) must never change the order:
    pushes, batches and pops interleaved at random give the same pops as a heap alone. Half
    the seeds give every task the same retries (a batch is taken), half mixed retries (a
    push_many whose tasks differ goes to the heap)."""
    import random

    from flowrunner.scheduling.ready_queue import ReadyQueue

    count = 400
    now = [0.0]

    def clock() -> float:
        return now[0]

    for seed in range(20):
        rng = random.Random(seed)
        remaining = [float(rng.randrange(4)) for _ in range(count)]
        mixed = seed % 2 == 0
        same = rng.randrange(3)
        retries = [rng.randrange(3) if mixed else same for _ in range(count)]
        now[0] = 0.0
        batched = ReadyQueue([0] * count, remaining, clock)
        heap_only = ReadyQueue([0] * count, remaining, clock)
        heap_only.batches = False
        assert batched.batches
        unqueued = list(range(count))
        rng.shuffle(unqueued)
        popped: list[int | None] = []
        used_batch = False
        while unqueued or batched:
            now[0] += rng.choice([0.0, 0.4, 1.3])  # ageing moves on between pushes
            action = rng.random()
            if unqueued and action < 0.3:
                task_id = unqueued.pop()
                batched.push(task_id, retries[task_id])
                heap_only.push(task_id, retries[task_id])
            elif unqueued and action < 0.6:
                some = [unqueued.pop() for _ in range(min(len(unqueued), rng.randrange(1, 40)))]
                batched.push_many(some, retries)
                heap_only.push_many(some, retries)
                used_batch = used_batch or bool(batched.batch)
            else:
                for _ in range(rng.randrange(1, 30)):
                    assert len(batched) == len(heap_only) and batched.unpooled() == len(heap_only)
                    popped.append(batched.pop())
                    assert popped[-1] == heap_only.pop()
        assert (used_batch or mixed) and not heap_only.batch
        assert sorted(task_id for task_id in popped if task_id is not None) == list(range(count))


def test_draining_takes_the_batch_too() -> None:
    from flowrunner.scheduling.ready_queue import ReadyQueue

    queue = ReadyQueue([0] * 6, [0.0] * 6, lambda: 0.0)
    queue.push_many([0, 1, 2], [0] * 6)
    queue.push(3, 0)
    assert queue.batch and queue.heap
    assert sorted(queue.drain()) == [0, 1, 2, 3]
    assert not queue and len(queue) == 0 and queue.pop() is None
