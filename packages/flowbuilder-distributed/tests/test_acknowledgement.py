"""When an attempt's entry is acknowledged, and which results are refused (real Redis, worker on a thread)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Iterator

import pytest
import redis
from in_process_worker import WorkerThread

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces import Attempt, AttemptOutcome
from flowbuilder_contracts.executor import ContractWork, make_attempt
from flowbuilder_distributed.executor import RedisStreamsExecutor
from flowbuilder_distributed.stream_keys import CONSUMER_GROUP
from flowbuilder_distributed.worker import WorkerOptions

QUEUE = "flowbuilder:workers:default:queue:-"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def executor(redis_url: str) -> Iterator[RedisStreamsExecutor]:
    built = RedisStreamsExecutor(redis_url)
    yield built
    built.close()


def start_worker(redis_url: str) -> WorkerThread:
    return WorkerThread(redis_url, {"contract_work": ContractWork()}, WorkerOptions(concurrency=4, lease=5))


def pending(client: redis.Redis) -> int:
    return int(client.xpending(QUEUE, CONSUMER_GROUP)["pending"])


async def until(condition: Any, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_an_entry_is_acknowledged_only_after_the_sink_sees_its_outcome_stored(
    redis_url: str, executor: RedisStreamsExecutor, client: redis.Redis
) -> None:
    """Handing the outcome to the scheduler is not enough: the entry stays pending until recorded."""
    serving = start_worker(redis_url)
    sink = executor.recording_sink("contract-run")
    assert sink is not None
    outcomes: list[tuple[Attempt, AttemptOutcome]] = []
    attempt = make_attempt(value=5)

    async def scenario() -> None:
        executor.submit(attempt, lambda done, outcome: outcomes.append((done, outcome)))
        await until(lambda: outcomes)
        await asyncio.sleep(0.3)  # an early acknowledgement would have reached Redis by now
        assert pending(client) == 1
        sink.handle([RunEvent("contract-run", 9, EventKind.TASK_SUCCEEDED, attempt.task, attempt.number)])
        await until(lambda: pending(client) == 0)

    try:
        asyncio.run(asyncio.wait_for(scenario(), 40))
    finally:
        serving.stop()
    assert outcomes[0][1].value == 5
    assert client.xlen(QUEUE) == 0, "acknowledged entries are deleted"


def test_a_result_arriving_after_its_attempt_timed_out_is_refused_and_counted(
    redis_url: str, executor: RedisStreamsExecutor, client: redis.Redis
) -> None:
    outcomes: list[AttemptOutcome] = []
    attempt = make_attempt(timeout=0.2, value="late")
    serving: list[WorkerThread] = []

    async def scenario() -> None:
        executor.submit(attempt, lambda done, outcome: outcomes.append(outcome))  # no worker yet: it times out queued
        await until(lambda: outcomes)
        client.delete(*client.keys("flowbuilder:workers:cancelled:*"))  # the worker must not know: it runs it
        serving.append(start_worker(redis_url))
        await until(lambda: executor.refused == 1)
        await asyncio.sleep(0.3)

    try:
        asyncio.run(asyncio.wait_for(scenario(), 40))
    finally:
        for worker in serving:
            worker.stop()
    assert [outcome.kind for outcome in outcomes] == [AttemptOutcome.FAILED]
    assert outcomes[0].failure is not None and outcomes[0].failure.timed_out
    assert pending(client) == 0, "a refused result's entry is acknowledged (nobody will record it)"


def test_a_second_result_for_the_same_attempt_is_refused(
    redis_url: str, executor: RedisStreamsExecutor, client: redis.Redis
) -> None:
    serving = start_worker(redis_url)
    outcomes: list[AttemptOutcome] = []

    async def scenario() -> None:
        executor.submit(make_attempt(value=1), lambda done, outcome: outcomes.append(outcome))
        await until(lambda: outcomes)
        done_keys = client.keys("flowbuilder:workers:done:*")
        attempt_id = done_keys[0].decode().rsplit(":", 1)[1]
        duplicate = (b'{"v":1,"attempt_id":"%s","kind":"succeeded","stream":"%s","id":"0-1","worker":"copy","value":2}'
                     % (attempt_id.encode(), QUEUE.encode()))  # fmt: skip
        client.xadd(executor.results_stream, {"result": duplicate})
        await until(lambda: executor.refused == 1)

    try:
        asyncio.run(asyncio.wait_for(scenario(), 40))
    finally:
        serving.stop()
    assert [(outcome.kind, outcome.value) for outcome in outcomes] == [(AttemptOutcome.SUCCEEDED, 1)]


def test_a_cancelled_attempt_reports_cancelled_once_and_the_worker_stops_it(
    redis_url: str, executor: RedisStreamsExecutor, client: redis.Redis
) -> None:
    serving = start_worker(redis_url)
    outcomes: list[AttemptOutcome] = []
    attempt = make_attempt(sleep=20.0, value="never")

    async def scenario() -> None:
        executor.submit(attempt, lambda done, outcome: outcomes.append(outcome))
        await until(lambda: serving.worker.running)
        executor.cancel(attempt)
        await until(lambda: not serving.worker.running, within=10)  # the worker honoured the cancel

    try:
        asyncio.run(asyncio.wait_for(scenario(), 40))
    finally:
        serving.stop()
    assert [outcome.kind for outcome in outcomes] == [AttemptOutcome.CANCELLED]
