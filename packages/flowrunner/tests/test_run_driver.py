"""The asyncio driver over the state machine: foreach under the same rules, pause and cancel hooks.

These run real workflows through :class:`LocalRunner`; the rules themselves are specified
synchronously in test_state_machine.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from flowbuilder.events import EventKind
from flowbuilder.interfaces import RunRequest, RunResult
from flowbuilder.stores.memory import MemoryStore
from flowbuilder_contracts.runner import compile_yaml
from flowbuilder_contracts.runner_tasks import contract_task_types, forget_recording, recording
from flowrunner import LocalRunner
from flowrunner._scheduler import RunExecution


def run_yaml(text: str, **runner_options: Any) -> RunResult:
    types = contract_task_types()
    runner = LocalRunner(types, **runner_options)
    return asyncio.run(asyncio.wait_for(runner.run_async(RunRequest(plan=compile_yaml(text, types))), 30))


def test_foreach_item_retries_stop_at_the_task_deadline() -> None:
    """The bug of the old foreach loop: its retries ignored the deadline the main path checks."""
    started = time.monotonic()
    result = run_yaml(
        """
name: items
tasks:
  - name: each
    type: contract_fail
    foreach: [1, 2]
    deadline: 0.5
    retry: {attempts: 50, backoff: 0.2, multiplier: 1, jitter: 0}
    config: {error: nope}
"""
    )
    took = time.monotonic() - started
    state = result.tasks["each"]
    assert state.status.value == "failed"
    assert state.error is not None and "(deadline reached, not retried)" in state.error
    assert took < 5.0  # 50 attempts of 0.2 s would take 10 s per item


def test_foreach_items_are_retried_by_the_task_policy() -> None:
    result = run_yaml(
        """
name: items
tasks:
  - name: each
    type: contract_fail
    foreach: [a, b, c]
    retry: {attempts: 3, backoff: 0.01, jitter: 0}
    config: {failures: 2, value: "${{ item }}"}
"""
    )
    assert result.succeeded, result.tasks["each"].error
    assert result.output("each") == ["a", "b", "c"]


CHAIN = """
name: steered
tasks:
  - {name: first, type: contract_sleep, config: {seconds: 0.2, value: 1}}
  - {name: second, type: contract_value, depends_on: [first], config: {value: 2}}
"""


def test_a_paused_run_starts_nothing_until_unpaused() -> None:
    types = contract_task_types()
    store = MemoryStore.open("memory://paused-run")
    request = RunRequest(plan=compile_yaml(CHAIN, types), store=store)
    execution = RunExecution(LocalRunner(types), request, None)
    seen: dict[str, Any] = {}

    async def main() -> None:
        run = asyncio.create_task(execution.execute())
        await asyncio.sleep(0.05)
        execution.pause()
        await asyncio.sleep(0.5)  # `first` ends meanwhile; `second` must not start
        seen["second_while_paused"] = execution.machine.attempts[execution.plan.index["second"]]
        seen["first_done"] = execution.machine.outputs[execution.plan.index["first"]]
        execution.unpause()
        seen["result"] = await asyncio.wait_for(run, 10)

    asyncio.run(main())
    assert seen["first_done"] == 1  # the running attempt carried on while paused
    assert seen["second_while_paused"] == 0
    assert seen["result"].succeeded and seen["result"].output("second") == 2
    MemoryStore.forget("memory://paused-run")


def test_a_paused_run_starts_no_foreach_item_until_unpaused() -> None:
    """Pausing holds a running foreach task's remaining items too, not only whole tasks."""
    types = contract_task_types()
    store = MemoryStore.open("memory://paused-foreach")
    text = """
name: steered-items
tasks:
  - name: each
    type: contract_record
    foreach: {items: [a, b, c, d], max_parallel: 1}
    config: {log: paused-items, sleep: 0.2}
"""
    request = RunRequest(plan=compile_yaml(text, types), store=store)
    execution = RunExecution(LocalRunner(types), request, None)
    seen: dict[str, Any] = {}

    async def main() -> None:
        run = asyncio.create_task(execution.execute())
        await asyncio.sleep(0.05)
        execution.pause()
        await asyncio.sleep(0.6)  # item a ends meanwhile; b, c and d must wait
        seen["started_while_paused"] = [entry for entry in recording("paused-items") if entry[0] == "start"]
        execution.unpause()
        seen["result"] = await asyncio.wait_for(run, 10)

    try:
        asyncio.run(main())
        assert len(seen["started_while_paused"]) == 1
        assert seen["result"].succeeded
        assert len([entry for entry in recording("paused-items") if entry[0] == "start"]) == 4
    finally:
        forget_recording("paused-items")
        MemoryStore.forget("memory://paused-foreach")


def test_request_cancel_from_a_hook_cancels_the_running_attempt() -> None:
    types = contract_task_types()
    store = MemoryStore.open("memory://cancelled-run")
    request = RunRequest(plan=compile_yaml(CHAIN.replace("0.2", "30"), types), store=store)
    execution = RunExecution(LocalRunner(types), request, None)

    async def main() -> RunResult:
        run = asyncio.create_task(execution.execute())
        await asyncio.sleep(0.1)
        execution.request_cancel("asked by another process")
        return await asyncio.wait_for(run, 5)

    result = asyncio.run(main())
    assert result.status.value == "cancelled"
    assert result.tasks["first"].status.value == "cancelled"
    kinds = [event.kind for event in store.read_events(result.run_id)]
    assert EventKind.RUN_CANCEL_REQUESTED in kinds
    MemoryStore.forget("memory://cancelled-run")
