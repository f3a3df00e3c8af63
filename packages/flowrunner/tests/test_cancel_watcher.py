"""The run's cancel event is watched from its first wait on (issue 10).

Only while a run waits does its loop run anything else, so a run that ends within its first
step (inline tasks only) makes no watcher task; a run that waits still honours a cancel.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Coroutine

import pytest

from flowbuilder.events import RunStatus
from flowrunner import Engine
from flowrunner._scheduler import RunExecution

INLINE_ONLY = """
name: one-step
tasks:
  - {name: a, type: python, config: {callable: "builtins:len", args: [[1, 2]]}}
"""
WAITS = """
name: waits
tasks:
  - {name: nap, type: python, config: {callable: "asyncio:sleep", args: [30]}}
"""


def watchers_started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    started: list[str] = []
    real_watch = RunExecution._watch_cancel

    def recording_watch(run: RunExecution) -> Coroutine[Any, Any, None]:
        started.append(run.run_id)  # when the watcher's coroutine is made (a task cancelled unstarted never runs it)
        return real_watch(run)

    monkeypatch.setattr(RunExecution, "_watch_cancel", recording_watch)
    return started


def test_a_run_that_ends_within_its_first_step_starts_no_cancel_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    started = watchers_started(monkeypatch)
    engine = Engine(store=f"memory://watcher-{uuid.uuid4().hex}")
    try:
        result = asyncio.run(engine.run(INLINE_ONLY))
    finally:
        engine.close()
    assert result.status is RunStatus.SUCCEEDED and result.output("a") == 2
    assert started == []


def test_a_run_that_waits_is_watched_and_cancelled_through_its_handle(monkeypatch: pytest.MonkeyPatch) -> None:
    started = watchers_started(monkeypatch)
    engine = Engine(store=f"memory://watcher-{uuid.uuid4().hex}")

    async def main() -> RunStatus:
        handle = await engine.submit(WAITS)
        await asyncio.sleep(0.05)  # the run is waiting for its task
        handle.cancel()
        return (await asyncio.wait_for(handle.result(), 10)).status

    try:
        assert asyncio.run(main()) is RunStatus.CANCELLED
    finally:
        engine.close()
    assert len(started) == 1
