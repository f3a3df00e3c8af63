"""A Redis outage stalls only the writes of the run on Redis, never the process's loop.

A real redis-server of the test's own is stopped with SIGSTOP (its socket still accepts,
nothing answers: what a reconnect inside the retry budget looks like to the runner). One
Engine runs a run on it and, at the same time, a run on memory://. While Redis is stopped
the memory run must finish, the Redis run's retry timer must fire and its cancel must kill
its attempt; after SIGCONT the Redis run must complete with every event stored exactly once.

The assertions are about order (what happened while Redis was stopped), not about time: a
watchdog sends SIGCONT after WATCHDOG_SECONDS so a regression fails instead of hanging. The
latencies measured are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Sequence

import pytest

from flowbuilder_contracts.redis_server import RedisServer

WATCHDOG_SECONDS = 20.0


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class _Recorder:
    """An event sink: what the run delivered, in order."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, events: Sequence[Any]) -> None:
        self.events.extend(events)

    def close(self) -> None:
        pass


def test_a_redis_outage_stalls_only_the_redis_runs_writes(redis_process: RedisServer, tmp_path: Path) -> None:
    from flowbuilder.events import EventKind, RunStatus
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.stores.memory import MemoryStore
    from flowrunner.api import Engine

    failed_once, retried, pid_file = tmp_path / "failed-once", tmp_path / "retried", tmp_path / "pid"
    on_redis = f"""
name: on-redis
tasks:
  - name: flaky
    type: shell
    retry: {{attempts: 2, backoff: 0.05, jitter: 0}}
    config: {{command: "test -f {failed_once} || {{ sleep 0.5; touch {failed_once}; exit 1; }}; touch {retried}"}}
  - {{name: waits, type: shell, config: {{command: "echo $$ > {pid_file}; exec sleep 60", kill_grace: 0.2}}}}
"""
    on_memory = """
name: on-memory
tasks:
  - {name: a, type: shell, config: {command: "true"}}
  - {name: b, type: shell, depends_on: [a], retry: {attempts: 2, backoff: 0.05, jitter: 0}, config: {command: "true"}}
"""
    engine = Engine(store=redis_process.url)
    recorder = _Recorder()
    seen: dict[str, Any] = {}
    watchdog = threading.Timer(WATCHDOG_SECONDS, redis_process.resume)
    watchdog.daemon = True

    async def until(condition: Any) -> None:
        while not condition():
            await asyncio.sleep(0.01)

    async def main() -> None:
        handle = await engine.submit(on_redis, sinks=[recorder])
        await until(lambda: recorder.events)  # the run's first batch is in Redis
        redis_process.pause()
        watchdog.start()
        paused_at = time.monotonic()
        await until(retried.exists)  # the failure's append hangs; the retry timer must fire all the same
        seen["retried_while_paused"] = redis_process.paused
        seen["retry_after_pause_s"] = time.monotonic() - paused_at
        plan, _ = engine.load(on_memory)
        memory = MemoryStore(f"memory://{uuid.uuid4().hex}")
        other = await engine.runner.run_async(RunRequest(plan=plan, store=memory))
        seen["memory_run"] = (other.status, redis_process.paused, memory.last_seq(other.run_id))
        await until(pid_file.exists)
        pid = int(pid_file.read_text())
        cancelled_at = time.monotonic()
        handle.cancel()
        await until(lambda: not _alive(pid))
        seen["cancel_s"] = time.monotonic() - cancelled_at
        seen["cancelled_while_paused"] = redis_process.paused and not handle.done()
        redis_process.resume()
        seen["result"] = await handle.result()

    try:
        asyncio.run(asyncio.wait_for(main(), 90))
        run_id = seen["result"].run_id
        stored = list(engine.store.read_events(run_id))
    finally:
        watchdog.cancel()
        engine.close()
    print(f"\nwhile Redis was stopped: retry timer fired {seen['retry_after_pause_s']:.3f}s after the stop; "
          f"cancel killed the attempt in {seen['cancel_s']:.3f}s")  # fmt: skip
    assert seen["retried_while_paused"], "the Redis run's retry timer fired while Redis was stopped"
    assert seen["memory_run"][:2] == (RunStatus.SUCCEEDED, True), "the memory run finished while Redis was stopped"
    assert seen["memory_run"][2] > 0
    assert seen["cancelled_while_paused"], "the cancel killed the attempt while Redis was stopped"
    assert seen["result"].status is RunStatus.CANCELLED
    assert seen["result"].tasks["flaky"].status.value == "succeeded"
    assert [event.seq for event in stored] == list(range(1, len(stored) + 1)), "every event stored exactly once"
    assert [(e.seq, e.kind, e.task, e.attempt) for e in stored] == [
        (e.seq, e.kind, e.task, e.attempt) for e in recorder.events
    ], "the sinks got exactly what was stored, in order"
    kinds = [(event.kind, event.task, event.attempt) for event in stored]
    assert (EventKind.TASK_RETRYING, "flaky", 1) in kinds and (EventKind.TASK_SUCCEEDED, "flaky", 2) in kinds
    assert kinds.count((EventKind.TASK_STARTED, "flaky", 2)) == 1
    assert stored[-1].kind is EventKind.RUN_FINISHED and stored[-1].data["status"] == "cancelled"
    assert os.path.exists(retried)
