"""``lock:`` in one process: one holder at a time, no slot while parked, fencing tokens, release, loss.

Runs go through :class:`flowrunner.Engine` on a ``memory://`` store; "another process" is a
second owner of the same lease taken through the store's own coordination role, exactly as
another runner would take it. Several processes on RocksDB and Redis, kill -9 and a dead
Redis are in tests/test_task_locks_end_to_end.py.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

from flowbuilder.events import EventKind, RunEvent, RunStatus, TaskStatus
from flowbuilder.interfaces import RunResult
from flowrunner import Engine
from flowrunner._locks import LEASE_PREFIX, _renewer

TWO_HOLDERS = """
name: two-holders
concurrency: 4
tasks:
  - {name: first, type: shell, lock: deploy, config: {command: 'echo $FLOWBUILDER_LOCK_TOKEN; sleep 0.3'}}
  - {name: second, type: shell, lock: deploy, config: {command: 'echo $FLOWBUILDER_LOCK_TOKEN; sleep 0.3'}}
  - {name: free, type: shell, config: {command: 'sleep 0.1'}}
"""


def _engine() -> Engine:
    return Engine(store=f"memory://locks-{uuid.uuid4().hex}")


def _events(engine: Engine, run_id: str) -> list[RunEvent]:
    return list(engine.store.read_events(run_id))


def _interval(events: list[RunEvent], task: str) -> tuple[float, float]:
    start = next(e.time for e in events if e.task == task and e.kind is EventKind.TASK_STARTED)
    end = next(e.time for e in events if e.task == task and e.kind in (EventKind.TASK_SUCCEEDED, EventKind.TASK_FAILED))
    return start, end


def _run(engine: Engine, text: str, timeout: float = 30.0) -> RunResult:
    async def main() -> RunResult:
        return await asyncio.wait_for(engine.run(text), timeout)

    return asyncio.run(main())


def test_tasks_sharing_a_lock_never_overlap_and_the_later_holder_has_the_greater_token() -> None:
    engine = _engine()
    result = _run(engine, TWO_HOLDERS)
    assert result.status is RunStatus.SUCCEEDED
    events = _events(engine, result.run_id)
    first, second = sorted([_interval(events, "first"), _interval(events, "second")])
    assert first[1] <= second[0], "two holders of one lock ran at once"
    tokens = {e.task: e.data["lock"]["token"] for e in events if e.kind is EventKind.TASK_STARTED and "lock" in e.data}
    assert sorted(tokens.values()) == [1, 2]
    outputs = {name: int(result.tasks[name].output) for name in ("first", "second")}
    assert outputs == tokens, "the task's FLOWBUILDER_LOCK_TOKEN is the recorded token"
    assert all(e.data["lock"]["name"] == "deploy" for e in events if e.task in tokens and "lock" in e.data)
    free_start, _ = _interval(events, "free")
    assert free_start < first[1], "a task without the lock waited for it"
    # released at the end: anyone can take it now, with the next token
    grant = engine.store.acquire_lease_epoch(LEASE_PREFIX + "deploy", "someone-else", 5)
    assert grant.holder == "someone-else" and grant.epoch == 3


def test_a_task_parked_on_a_taken_lock_holds_no_slot_and_starts_once_the_holder_lets_go() -> None:
    engine = _engine()
    store = engine.store
    taken = store.acquire_lease_epoch(LEASE_PREFIX + "db", "another-process", 60)
    text = """
name: parked
concurrency: 1
tasks:
  - {name: locked, type: shell, lock: {name: db, ttl: 5s}, config: {command: 'echo $FLOWBUILDER_LOCK_TOKEN'}}
  - {name: other, type: shell, config: {command: 'echo ran'}}
"""

    async def main() -> RunResult:
        handle = await engine.submit(text)
        deadline = time.monotonic() + 20
        while not any(e.task == "other" and e.kind is EventKind.TASK_SUCCEEDED for e in _events(engine, handle.run_id)):
            assert time.monotonic() < deadline, "the other task never ran while the lock was taken"
            await asyncio.sleep(0.02)
        events = _events(engine, handle.run_id)
        assert not any(e.task == "locked" and e.kind is EventKind.TASK_STARTED for e in events)
        store.release_lease(LEASE_PREFIX + "db", "another-process")
        return await asyncio.wait_for(handle.result(), 20)

    result = asyncio.run(main())
    assert result.status is RunStatus.SUCCEEDED
    assert int(result.tasks["locked"].output) == taken.epoch + 1


def test_an_expired_holding_is_taken_with_a_greater_token() -> None:
    engine = _engine()
    taken = engine.store.acquire_lease_epoch(LEASE_PREFIX + "db", "a-dead-process", 1.0)  # never renewed
    started = time.monotonic()
    result = _run(engine, "name: after\ntasks:\n  - {name: t, type: shell, lock: db, config: {command: 'echo $FLOWBUILDER_LOCK_TOKEN'}}\n")  # fmt: skip
    assert result.status is RunStatus.SUCCEEDED
    assert time.monotonic() - started >= 0.5
    assert int(result.tasks["t"].output) == taken.epoch + 1


def test_the_lock_is_released_after_a_failure_and_after_a_timeout() -> None:
    engine = _engine()
    text = """
name: ends
on_failure: continue
tasks:
  - {name: fails, type: shell, lock: one, config: {command: 'exit 3'}}
  - {name: slow, type: shell, lock: two, timeout: 0.3, config: {command: 'sleep 10'}}
"""
    result = _run(engine, text)
    assert result.tasks["fails"].status is TaskStatus.FAILED
    assert result.tasks["slow"].status is TaskStatus.FAILED
    for name in ("one", "two"):
        grant = engine.store.acquire_lease_epoch(LEASE_PREFIX + name, "next", 5)
        assert grant.holder == "next", f"lock {name} was not released"


def _run_with_lock_db_stolen(engine: Engine, text: str) -> RunResult:
    """Run ``text`` and, once its task holds lock ``db``, do what another process does once the
    holder's lease expired: take it with the next token. Returns the run's result."""
    store = engine.store

    async def main() -> RunResult:
        handle = await engine.submit(text)
        deadline = time.monotonic() + 20
        holding = None
        while holding is None:
            assert time.monotonic() < deadline, "the task never took its lock"
            holding = next((h for h in list(_renewer().holdings) if h.store is store), None)
            await asyncio.sleep(0.02)
        # what another process does once the holder's lease expired: take it with the next token
        store.release_lease(LEASE_PREFIX + "db", holding.owner)
        store.acquire_lease_epoch(LEASE_PREFIX + "db", "thief", 60)
        return await asyncio.wait_for(handle.result(), 20)

    return asyncio.run(main())


def test_a_running_attempt_that_loses_its_lock_fails_with_the_reason() -> None:
    engine = _engine()
    store = engine.store
    text = (
        "name: loses\ntasks:\n  - {name: t, type: shell, lock: {name: db, ttl: 1.5}, config: {command: 'sleep 20'}}\n"
    )

    result = _run_with_lock_db_stolen(engine, text)
    task = result.tasks["t"]
    assert task.status is TaskStatus.FAILED
    assert task.error is not None and "lost lock 'db' (token 1)" in task.error and "token 2" in task.error
    assert store.acquire_lease_epoch(LEASE_PREFIX + "db", "thief", 60).holder == "thief", (
        "the thief's lease was released"
    )


def test_an_awaited_attempt_that_loses_its_lock_fails_with_the_reason() -> None:
    """A plain function that returns a coroutine is awaited by the driver itself (not by an
    executor): losing its lock must still cancel it and fail it with the reason."""
    engine = _engine()
    text = (
        "name: loses-awaited\ntasks:\n  - {name: t, type: python, lock: {name: db, ttl: 1.5},"
        " config: {callable: 'flowrunner_sample_callables:sleep_later', args: [20]}}\n"
    )

    started = time.monotonic()
    result = _run_with_lock_db_stolen(engine, text)
    task = result.tasks["t"]
    assert task.status is TaskStatus.FAILED, task.status
    assert task.error is not None and "lost lock 'db' (token 1)" in task.error and "token 2" in task.error
    assert time.monotonic() - started < 15, "the attempt ran on after losing its lock"


def test_cancelling_a_run_parked_on_a_lock_releases_nothing_it_did_not_hold() -> None:
    engine = _engine()
    store = engine.store
    taken = store.acquire_lease_epoch(LEASE_PREFIX + "db", "another-process", 60)
    text = "name: cancelled\ntasks:\n  - {name: t, type: shell, lock: db, config: {command: 'echo ran'}}\n"

    async def main() -> RunResult:
        handle = await engine.submit(text)
        await asyncio.sleep(0.3)
        engine.cancel(handle.run_id, "not today")
        return await asyncio.wait_for(handle.result(), 20)

    result = asyncio.run(main())
    assert result.status is RunStatus.CANCELLED
    assert result.tasks["t"].status is not TaskStatus.SUCCEEDED
    assert result.tasks["t"].attempts == 0, "a parked task never started"
    still = store.acquire_lease_epoch(LEASE_PREFIX + "db", "another-process", 60)
    assert (still.holder, still.epoch) == ("another-process", taken.epoch)


def test_defaults_lock_applies_to_every_task() -> None:
    engine = _engine()
    text = """
name: defaults
concurrency: 3
defaults: {lock: everything}
tasks:
  - {name: a, type: shell, config: {command: 'sleep 0.2'}}
  - {name: b, type: shell, config: {command: 'sleep 0.2'}}
  - {name: c, type: shell, config: {command: 'sleep 0.2'}}
"""
    result = _run(engine, text)
    assert result.status is RunStatus.SUCCEEDED
    events = _events(engine, result.run_id)
    intervals = sorted(_interval(events, name) for name in "abc")
    assert all(left[1] <= right[0] for left, right in itertools.pairwise(intervals))


def test_a_lock_name_renders_the_runs_params_and_a_bad_result_fails_the_task() -> None:
    engine = _engine()
    text = """
name: templated
params: {env: {type: string, default: prod}}
tasks:
  - {name: t, type: shell, lock: "deploy-${{ params.env }}", config: {command: 'echo $FLOWBUILDER_LOCK_NAME'}}
"""

    async def main(params: dict[str, str]) -> RunResult:
        return await asyncio.wait_for(engine.run(text, params), 30)

    result = asyncio.run(main({"env": "eu"}))
    assert result.status is RunStatus.SUCCEEDED
    assert result.tasks["t"].output.strip() == "deploy-eu"
    assert engine.store.acquire_lease_epoch(LEASE_PREFIX + "deploy-eu", "next", 5).epoch == 2
    failed = asyncio.run(main({"env": "two words"}))
    assert failed.tasks["t"].status is TaskStatus.FAILED
    assert "became 'deploy-two words'" in (failed.tasks["t"].error or "")
