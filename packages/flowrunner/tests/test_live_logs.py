"""A task's log lines are stored while it still runs, not only with the run's next event.

Each task here logs one line and then waits on a gate file that the test opens only after
it has read that line from the store; a writer that keeps lines until the next event never
lets the line out, and the test fails at its (generous) wait bound instead of hanging.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from flowrunner_helpers import TASK_TYPES, plan_of

from flowbuilder.events import EventKind, RunStatus
from flowbuilder.interfaces import RunRequest
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner

LINE_WAIT_SECONDS = 15.0
"""How long the test waits for the line: far beyond the flush interval, a bound, not a measure."""


class ThreadedMemoryStore(MemoryStore):
    """A memory store that is not exactly MemoryStore, so its appends go through the store thread
    (the path of rocksdb:// and redis://)."""


def _task(kind: str, gate: Path) -> str:
    if kind == "shell":
        # Prints, then waits for the gate (up to 60 s, then fails).
        command = f"echo 'first line'; for i in $(seq 1200); do [ -e '{gate}' ] && exit 0; sleep 0.05; done; exit 1"
        return f"{{name: slow, type: shell, config: {{command: {command!r}}}}}"
    callable_name = {"python-async": "async_log_then_wait", "python-own-thread": "async_log_from_own_thread_then_wait"
                     }.get(kind, "log_then_wait")  # fmt: skip
    isolation = {"python-thread": "thread", "python-process": "process"}.get(kind, "inline")
    return (f"{{name: slow, type: python, config: {{callable: 'flowrunner_sample_callables:{callable_name}',"
            f" kwargs: {{path: '{gate}'}}, isolation: {isolation}, pass_context: true}}}}")  # fmt: skip


async def _first_line_while_running(store: MemoryStore, run_id: str, gate: Path) -> tuple[Any, list[EventKind]]:
    """Follow the run (Store.subscribe) and its logs; once the line is stored, note what the
    subscription had seen by then, and open the gate."""
    seen: list[EventKind] = []

    async def follow() -> None:
        async for update in store.subscribe(run_id):
            seen.extend(event.kind for event in update.events)

    follower = asyncio.create_task(follow())
    try:
        async with asyncio.timeout(LINE_WAIT_SECONDS):
            while True:
                lines = store.read_logs(run_id, "slow") if store.last_seq(run_id) else []
                if lines:
                    state = store.load_state(run_id)
                    return (lines, state.tasks["slow"].status.value, list(seen)), seen
                await asyncio.sleep(0.02)
    finally:
        gate.touch()
        await asyncio.sleep(0)
        if follower.done():
            follower.result()


@pytest.mark.parametrize("store_class", [MemoryStore, ThreadedMemoryStore], ids=["inline-store", "store-thread"])
@pytest.mark.parametrize("kind", ["shell", "python-thread", "python-process", "python-async", "python-own-thread"])
def test_a_line_is_stored_while_its_task_still_runs(tmp_path: Path, kind: str, store_class: type[MemoryStore]) -> None:
    """A line a task logs reaches the store (and its readers) before the task ends.

    ``python-own-thread``: a coroutine whose own thread writes the line (not a THREAD attempt,
    so no forwarder): the timer is still armed on the loop's thread. The loop runs in debug
    mode, where arming it from the other thread would raise.
    """
    gate = tmp_path / "gate"
    store = store_class(f"memory://{uuid.uuid4().hex}")
    run_id = uuid.uuid4().hex
    plan = plan_of(f"name: live\ntasks:\n  - {_task(kind, gate)}\n")
    runner = LocalRunner(TASK_TYPES)

    async def main() -> tuple[Any, Any]:
        run = asyncio.create_task(runner.run_async(RunRequest(plan=plan, store=store, run_id=run_id)))
        try:
            observed, _ = await _first_line_while_running(store, run_id, gate)
        except TimeoutError:
            observed = None
        result = await asyncio.wait_for(run, 60)
        return observed, result

    try:
        observed, result = asyncio.run(main(), debug=kind == "python-own-thread")
    finally:
        runner.close_workers()
    assert observed is not None, f"the line was not stored within {LINE_WAIT_SECONDS}s while the task ran"
    lines, status_then, kinds_then = observed
    assert [(line.stream, line.text) for line in lines] == [("stdout", "first line")]
    assert status_then == "running"
    assert EventKind.TASK_SUCCEEDED not in kinds_then and EventKind.TASK_FAILED not in kinds_then
    assert result.status is RunStatus.SUCCEEDED
    # Nothing stored twice, and the line stays before the events that came after it.
    assert [line.text for line in store.read_logs(run_id)] == ["first line"]
    events = store.read_events(run_id)
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
