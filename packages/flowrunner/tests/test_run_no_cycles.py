"""A finished run leaves no reference cycle: its objects are freed by reference counting (issue 10).

The run's driver, its state machine, ready queue, writer, control channel and store channel
used to refer to each other through bound methods, so every finished run (with its plan) was
cyclic garbage, and the cyclic collector ran every few short runs to free it.
"""

from __future__ import annotations

import asyncio
import gc
import uuid
from typing import Any, Iterator

import pytest

from flowbuilder.plan import ExecutionPlan
from flowbuilder.stores.memory import MemoryStore
from flowrunner import Engine
from flowrunner._control import RunControl
from flowrunner._event_writer import EventWriter
from flowrunner._scheduler import RunExecution
from flowrunner._store_thread import RunChannel
from flowrunner.scheduling.ready_queue import ReadyQueue
from flowrunner.scheduling.state import RunStateMachine

WORKFLOW = """
name: no-cycles
tasks:
  - {name: a, type: python, config: {callable: "builtins:len", args: [[1, 2]]}}
  - {name: b, type: python, depends_on: [a], config: {callable: "builtins:abs", args: [-3]}}
"""
RUN_PARTS = (RunExecution, RunStateMachine, ReadyQueue, EventWriter, RunControl, RunChannel, ExecutionPlan)


class ThreadedStore(MemoryStore):
    """Not exactly MemoryStore, so the run's appends take the store's thread (the store channel's path)."""


@pytest.fixture
def saved_garbage() -> Iterator[list[Any]]:
    """What the cyclic collector finds unreachable while the test runs (kept, not freed)."""
    gc.collect()
    flags = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()
        gc.collect()


def cyclic_run_parts(engine: Engine, garbage: list[Any]) -> list[str]:
    """Run the workflow twice (the first run loads what it needs), drop the second result, collect."""

    async def main() -> None:
        assert (await engine.run(WORKFLOW)).succeeded
        gc.collect()
        garbage.clear()
        result = await engine.run(WORKFLOW)
        assert result.succeeded and result.output("b") == 3  # the result still reads the run's state
        del result

    asyncio.run(main())
    gc.collect()
    return sorted({type(thing).__name__ for thing in garbage if isinstance(thing, RUN_PARTS)})


def test_a_finished_run_on_memory_is_freed_without_the_cyclic_collector(saved_garbage: list[Any]) -> None:
    """A run's objects refer back to the run only while it runs (RunExecution._detach at its end)."""
    engine = Engine(store=f"memory://no-cycles-{uuid.uuid4().hex}")
    try:
        assert cyclic_run_parts(engine, saved_garbage) == []
    finally:
        engine.close()


def test_a_finished_run_on_a_threaded_store_is_freed_without_the_cyclic_collector(saved_garbage: list[Any]) -> None:
    """The store channel lets go of the run's writer once everything it handed over was reported."""
    store = ThreadedStore(f"memory://no-cycles-threaded-{uuid.uuid4().hex}")
    engine = Engine(store=store)
    try:
        assert cyclic_run_parts(engine, saved_garbage) == []
    finally:
        engine.close()
        MemoryStore.forget(store.url)
