"""The cyclic garbage collector is paused while a workflow loads, and restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from flowbuilder import hookimpl
from flowbuilder.errors import WorkflowError
from flowbuilder.gc_pause import gc_paused
from flowbuilder.loader import load_plan
from flowbuilder.plugins import PluginHost

WORKFLOW = "name: w\ntasks:\n  - {name: a, type: shell, config: {command: x}}\n"


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_inner_pause_leaves_the_collector_off_for_the_outer_block() -> None:
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_restores_the_collector() -> None:
    with pytest.raises(ValueError, match="boom"), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_caller_that_had_turned_the_collector_off_finds_it_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def _record_collector(host: PluginHost, seen: list[bool]) -> None:
    def record(plan: Any) -> None:
        seen.append(gc.isenabled())

    @hookimpl
    def flowbuilder_compile_passes() -> list[Any]:
        return [record]

    host.register(SimpleNamespace(flowbuilder_compile_passes=flowbuilder_compile_passes), name="record")


def test_load_plan_keeps_the_collector_off_until_the_plan_is_made(host: PluginHost) -> None:
    seen: list[bool] = []
    _record_collector(host, seen)
    load_plan(WORKFLOW, host)
    assert seen == [False]
    assert gc.isenabled()


def test_a_file_with_problems_leaves_the_collector_on(host: PluginHost) -> None:
    with pytest.raises(WorkflowError):
        load_plan("name: w\ntasks:\n  - {name: a, type: nope}\n", host)
    assert gc.isenabled()
