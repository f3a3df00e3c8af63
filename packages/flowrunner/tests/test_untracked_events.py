"""The runner's hottest events are ``PlainRunEvent``s (not tracked by the cycle collector) only
where their data cannot lead back to them: a task's own context returned as its output must
not leave the run behind as uncollectable garbage."""

from __future__ import annotations

import gc
from typing import Any

from flowbuilder.compiler import compile_workflow
from flowbuilder.events import EventKind, PlainRunEvent, RunEvent
from flowbuilder.interfaces import RunRequest, TaskContext
from flowbuilder.model import Workflow
from flowbuilder.plugins import build_plugin_host
from flowbuilder.stores.memory import MemoryStore
from flowrunner.tasktypes import PythonTask


def plan_of(tasks: list[dict[str, Any]]) -> Any:
    return compile_workflow(Workflow.model_validate({"name": "untracked", "tasks": tasks}), {"python": PythonTask()})


def contexts_alive() -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if type(thing) is TaskContext)


def test_a_task_returning_its_own_context_leaves_no_uncollectable_run_behind() -> None:
    """The output (the context) leads through its log to the run's writer and store, which
    hold the event holding the output: a cycle. It is collected only if that event is tracked."""
    plan = plan_of([{"name": "a", "type": "python",
                     "config": {"callable": "flowrunner_sample_callables:give_context", "pass_context": True}}])  # fmt: skip
    host = build_plugin_host()
    runner = host.make_runner()
    before = contexts_alive()
    for number in range(3):
        url = f"memory://untracked-context-{number}"
        with host.open_store(url) as store:
            result = runner.run(RunRequest(plan=plan, store=store))
            assert result.succeeded
            succeeded = [e for e in store.read_events(result.run_id, 0, 100) if e.kind is EventKind.TASK_SUCCEEDED]
            assert len(succeeded) == 1 and gc.is_tracked(succeeded[0])
        MemoryStore.forget(url)
        del store, result, succeeded
    assert contexts_alive() == before


def test_a_fan_out_of_scalar_outputs_records_untracked_events_and_a_dict_output_a_tracked_one() -> None:
    plan = plan_of([{"name": "root", "type": "python", "config": {"callable": "flowrunner_sample_callables:noop"}},
                    *({"name": f"t{i}", "type": "python", "depends_on": ["root"],
                       "config": {"callable": "flowrunner_sample_callables:noop"}} for i in range(20)),
                    {"name": "d", "type": "python", "depends_on": ["root"],
                     "config": {"callable": "flowrunner_sample_callables:give_dict"}}])  # fmt: skip
    host = build_plugin_host()
    url = "memory://untracked-fan-out"
    try:
        with host.open_store(url) as store:
            result = host.make_runner().run(RunRequest(plan=plan, store=store))
            assert result.succeeded
            events = store.read_events(result.run_id, 0, 1000)
    finally:
        MemoryStore.forget(url)
    started = [e for e in events if e.kind is EventKind.TASK_STARTED]
    succeeded = {e.task: e for e in events if e.kind is EventKind.TASK_SUCCEEDED}
    assert len(started) == 22 and all(type(e) is PlainRunEvent and not gc.is_tracked(e) for e in started)
    assert all(type(succeeded[f"t{i}"]) is PlainRunEvent for i in range(20))
    assert type(succeeded["d"]) is RunEvent and gc.is_tracked(succeeded["d"])
    assert succeeded["d"].data["output"] == {"values": [1, 2]}


def test_outputs_a_store_must_check_are_recorded_in_tracked_events(tmp_path: Any) -> None:
    """A PlainRunEvent is stored unchecked (PlainRunEvent's contract): a non-finite float or a
    text longer than PLAIN_TEXT_LIMIT is a scalar output, but its ``task_succeeded`` is a
    ``RunEvent``, which a store checks, so NaN and the infinities survive the RocksDB store
    exactly (msgspec would write them as ``null``)."""
    from flowbuilder.events import PLAIN_TEXT_LIMIT

    floats = {"nan": "nan", "inf": "inf", "minus_inf": "-inf", "finite": "1.5"}
    texts = {"long": PLAIN_TEXT_LIMIT + 1, "short": PLAIN_TEXT_LIMIT}
    plan = plan_of([*({"name": name, "type": "python",
                       "config": {"callable": "flowrunner_sample_callables:give_float", "args": [text]}}
                      for name, text in floats.items()),
                    *({"name": name, "type": "python",
                       "config": {"callable": "flowrunner_sample_callables:give_text", "args": [length]}}
                      for name, length in texts.items())])  # fmt: skip
    host = build_plugin_host()
    url = "memory://untracked-checked-outputs"
    try:
        with host.open_store(url) as store:
            result = host.make_runner().run(RunRequest(plan=plan, store=store))
            assert result.succeeded
            recorded = {e.task: type(e) for e in store.read_events(result.run_id, 0, 100)
                        if e.kind is EventKind.TASK_SUCCEEDED}  # fmt: skip
    finally:
        MemoryStore.forget(url)
    assert recorded == {"nan": RunEvent, "inf": RunEvent, "minus_inf": RunEvent, "long": RunEvent,
                        "finite": PlainRunEvent, "short": PlainRunEvent}  # fmt: skip
    url = f"rocksdb://{tmp_path}/store"
    with host.open_store(url) as store:
        result = host.make_runner().run(RunRequest(plan=plan, store=store))
        assert result.succeeded
    with host.open_store(url) as store:
        read = {e.task: e.data["output"] for e in store.read_events(result.run_id, 0, 100)
                if e.kind is EventKind.TASK_SUCCEEDED}  # fmt: skip
    assert {name: repr(read[name]) for name in floats} == {"nan": "nan", "inf": "inf", "minus_inf": "-inf",
                                                          "finite": "1.5"}  # fmt: skip
    assert {name: len(read[name]) for name in texts} == texts
