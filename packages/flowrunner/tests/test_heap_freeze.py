"""While a run runs, the collector leaves the heap that existed before it alone (flowrunner._heap_freeze)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any, ClassVar, Iterator

import pytest
from pydantic import BaseModel

from flowbuilder.interfaces import ExecutionMode, RunRequest, TaskContext, TaskType
from flowbuilder_contracts.runner import compile_yaml
from flowbuilder_contracts.runner_tasks import contract_task_types
from flowrunner import LocalRunner, _heap_freeze
from flowrunner._heap_freeze import heap_frozen


class Empty(BaseModel):
    pass


class SeesFrozen(TaskType):
    """Returns how many objects the collector had frozen while the task ran."""

    name: ClassVar[str] = "sees_frozen"
    config_model: ClassVar[type[BaseModel]] = Empty
    mode: ClassVar[ExecutionMode] = ExecutionMode.INLINE

    def run(self, config: BaseModel, context: TaskContext) -> Any:
        return gc.get_freeze_count()


@pytest.fixture(autouse=True)
def thawed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts and ends with nothing frozen and the collector on; its one-task runs count as large."""
    monkeypatch.setattr(_heap_freeze, "FREEZE_FROM_TASKS", 1)
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def run_one() -> int:
    types = {**contract_task_types(), "sees_frozen": SeesFrozen()}
    plan = compile_yaml("name: f\ntasks:\n  - {name: a, type: sees_frozen}\n", types)
    result = asyncio.run(LocalRunner(types).run_async(RunRequest(plan=plan)))
    assert result.succeeded
    frozen = result.tasks["a"].output
    assert isinstance(frozen, int)
    return frozen


def test_a_run_freezes_the_existing_heap_and_thaws_it_after() -> None:
    assert run_one() > 0
    assert gc.get_freeze_count() == 0


def test_overlapping_blocks_freeze_once_and_thaw_with_the_last() -> None:
    with heap_frozen(1):
        assert gc.get_freeze_count() > 0
        made_inside = [[] for _ in range(10)]  # tracked objects of the run
        with heap_frozen(1):  # a child run, or a run on another thread: nothing frozen again
            assert _objects_frozen(made_inside) == 0
        assert gc.get_freeze_count() > 0  # the outer block still runs
        assert _objects_frozen(made_inside) == 0
    assert gc.get_freeze_count() == 0


def test_a_small_run_freezes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_heap_freeze, "FREEZE_FROM_TASKS", 2)
    assert run_one() == 0


def test_nothing_is_frozen_with_the_collector_off() -> None:
    gc.disable()
    assert run_one() == 0


def test_a_process_that_froze_its_own_heap_keeps_it_frozen() -> None:
    gc.freeze()
    before = gc.get_freeze_count()  # it only falls from here as frozen objects are freed
    assert run_one() <= before  # the run froze nothing more ...
    assert 0 < gc.get_freeze_count() <= before  # ... and thawed nothing


def _objects_frozen(objects: list[list[object]]) -> int:
    """How many of ``objects`` the collector would not look at (they are in the frozen generation)."""
    visible = {id(obj) for generation in range(3) for obj in gc.get_objects(generation)}
    return sum(1 for obj in objects if id(obj) not in visible)
