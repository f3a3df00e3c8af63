"""A remote attempt's log lines reach the run's store while it still runs on the worker.

A worker (on a thread of the test, against the test's redis-server) runs a shell task that
prints a line, then waits on a gate file the test opens only once the store holds that line.
A worker that sends lines only with the result never lets it out; the test fails at its
(generous) wait bound.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from in_process_worker import WorkerThread

from flowbuilder.compiler import compile_workflow
from flowbuilder.events import EventKind, RunStatus
from flowbuilder.interfaces import ExecutionMode, RunRequest
from flowbuilder.loader import load_workflow
from flowbuilder.stores.memory import MemoryStore
from flowbuilder_distributed.executor import RedisStreamsExecutor
from flowbuilder_distributed.worker import WorkerOptions
from flowrunner import LocalRunner
from flowrunner.tasktypes import BUILTIN_TASK_TYPES

TASK_TYPES = {cls.name: cls() for cls in BUILTIN_TASK_TYPES}
LINE_WAIT_SECONDS = 20.0
"""A bound on the wait, far beyond the worker's and the runner's flush intervals: not a measure."""


@pytest.fixture
def worker(redis_url: str) -> Iterator[WorkerThread]:
    serving = WorkerThread(redis_url, TASK_TYPES, WorkerOptions(concurrency=2, lease=5))
    yield serving
    serving.stop()


def test_a_remote_tasks_line_is_stored_before_the_task_ends(redis_url: str, worker: WorkerThread,
                                                            tmp_path: Path) -> None:  # fmt: skip
    gate = tmp_path / "gate"
    command = f"echo 'first line'; for i in $(seq 1200); do [ -e '{gate}' ] && exit 0; sleep 0.05; done; exit 1"
    source = load_workflow(f"name: remote\ntasks:\n  - {{name: slow, type: shell, config: {{command: {command!r}}}}}\n",
                           filename="<test>")  # fmt: skip
    plan = compile_workflow(source.workflow, TASK_TYPES, locator=source.locator)
    store = MemoryStore(f"memory://{uuid.uuid4().hex}")
    run_id = uuid.uuid4().hex
    executor = RedisStreamsExecutor(redis_url)
    runner = LocalRunner(TASK_TYPES, executors={ExecutionMode.ASYNC: executor})

    async def main() -> tuple[list[str], str | None]:
        run = asyncio.create_task(runner.run_async(RunRequest(plan=plan, store=store, run_id=run_id)))
        texts: list[str] = []
        status: str | None = None
        try:
            async with asyncio.timeout(LINE_WAIT_SECONDS):
                while not texts:
                    await asyncio.sleep(0.05)
                    texts = [line.text for line in store.read_logs(run_id, "slow")] if store.last_seq(run_id) else []
            status = store.load_state(run_id).tasks["slow"].status.value
        except TimeoutError:
            pass
        finally:
            gate.touch()
        await asyncio.wait_for(run, 60)
        return texts, status

    try:
        texts, status = asyncio.run(main())
    finally:
        executor.close()
        runner.close()
    assert texts == ["first line"], f"no line stored within {LINE_WAIT_SECONDS}s while the task ran"
    assert status == "running"
    events = store.read_events(run_id)
    assert events[-1].kind is EventKind.RUN_FINISHED and events[-1].data["status"] == RunStatus.SUCCEEDED.value
    assert [line.text for line in store.read_logs(run_id)] == ["first line"]  # sent once, not again with the result
    assert worker.worker.completed == 1  # it ran on the worker, not in this process
