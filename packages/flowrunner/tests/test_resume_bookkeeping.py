"""Resuming a stored run in-process: the clocks of a task run again start at the resume."""

from __future__ import annotations

import uuid

from flowrunner_helpers import run_text

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.stores.memory import MemoryStore


def test_a_task_run_again_on_resume_keeps_its_deadline() -> None:
    """The overall deadline starts at the task's first attempt in the resuming process, whatever its number."""
    store = MemoryStore.open(f"memory://{uuid.uuid4().hex}")
    store.append_events("r", [
        RunEvent("r", 1, EventKind.RUN_CREATED, data={"workflow": "slow", "params": {}}),
        RunEvent("r", 2, EventKind.RUN_STARTED, data={"resumed": False}),
        RunEvent("r", 3, EventKind.TASK_STARTED, task="slow", attempt=1),
    ], 0)  # fmt: skip
    result = run_text(
        "name: slow\ntasks:\n  - {name: slow, type: shell, deadline: 0.3, config: {command: 'sleep 30'}}\n",
        store=store, run_id="r", resume=store.load_state("r"),
    )  # fmt: skip
    slow = result.tasks["slow"]
    assert (slow.status.value, slow.attempts) == ("failed", 2)
    assert "timed out" in (slow.error or "")
