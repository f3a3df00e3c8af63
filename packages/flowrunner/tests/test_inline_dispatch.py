"""The machine's own inline path (``RunStateMachine.inline_calls``): it must record exactly what
``start`` followed by ``succeeded`` records, and hand every other outcome back to the driver.

Each test drives the machine by hand (no event loop, a clock moved by each call), once through
the inline path and, where it compares, once the long way, and reads the events and the lists.
"""

from __future__ import annotations

from typing import Any, Callable

from flowbuilder.events import EventKind, RunStatus
from flowbuilder_contracts.runner import compile_yaml
from flowrunner._event_writer import EventWriter
from flowrunner.scheduling import ReadyQueue, RunStateMachine
from flowrunner.scheduling.state import FAILED, RUNNING, SUCCEEDED

FAN = """
name: fan
tasks:
  - {name: root, type: contract_value, config: {value: 0}}
  - {name: a, type: contract_value, depends_on: [root], config: {value: 1}}
  - {name: b, type: contract_value, depends_on: [root], config: {value: 2}}
  - {name: c, type: contract_value, depends_on: [root], config: {value: 3}}
  - {name: sink, type: contract_value, depends_on: [a, b, c], config: {value: 4}}
"""


class TickingClock:
    """Each reading is one second after the previous one: every instant recorded is distinct."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        self.now += 1.0
        return self.now


def machine_for(text: str) -> tuple[RunStateMachine, EventWriter]:
    plan = compile_yaml(text)
    clock = TickingClock()
    writer = EventWriter("run-1", None, [])
    queue = ReadyQueue([0.0] * len(plan), plan.remaining_path, clock.monotonic)
    return RunStateMachine(plan, writer, queue, 10, clock), writer


def returning(values: dict[str, Any], names: tuple[str, ...]) -> list[Callable[[], Any] | None]:
    """One zero-argument call per task, returning the task's value from ``values``."""
    return [(lambda value=values[name]: value) for name in names]


def run_to_end(machine: RunStateMachine, start: Callable[[int, int], None]) -> None:
    machine.open(machine.plan.roots())
    while not machine.done:
        machine.pump(start)


def recorded(writer: EventWriter) -> list[tuple[int, EventKind, str | None, int, Any, float]]:
    """The events as stored, their data's key order included (it is the stored JSON's order)."""
    return [(event.seq, event.kind, event.task, event.attempt, list(event.data.items()), event.time)
            for event in writer.pending]  # fmt: skip


VALUES = {"root": None, "a": 1, "b": "two", "c": {"three": [3]}, "sink": None}


def test_the_inline_path_records_what_start_and_succeeded_record() -> None:
    long_way, long_writer = machine_for(FAN)
    calls = returning(VALUES, long_way.names)

    def start(task_id: int, attempt: int) -> None:  # the driver's hot path before the machine had its own
        long_way.succeeded(task_id, attempt, calls[task_id]())  # type: ignore[misc]

    run_to_end(long_way, start)

    inline, inline_writer = machine_for(FAN)
    inline.inline_calls = returning(VALUES, inline.names)
    started: list[int] = []
    run_to_end(inline, lambda task_id, attempt: started.append(task_id))

    assert started == []  # every task was called and settled by the machine itself
    assert recorded(inline_writer) == recorded(long_writer)
    assert [event.kind for event in inline_writer.pending] == [EventKind.TASK_STARTED, EventKind.TASK_SUCCEEDED] * 5
    for field in ("state", "outputs", "started_at", "finished_at", "attempts", "waiting"):
        assert getattr(inline, field) == getattr(long_way, field), field
    for field in ("started_sum", "ready_sum", "inline_bodies", "bodies", "attempts"):
        assert getattr(inline.timing, field) == getattr(long_way.timing, field), field
    assert inline.running == 0
    assert inline.finish() is RunStatus.SUCCEEDED


def test_a_task_without_a_call_is_started_by_the_driver() -> None:
    machine, _ = machine_for(FAN)
    calls = returning(VALUES, machine.names)
    calls[machine.plan.index["b"]] = None
    machine.inline_calls = calls
    started: list[tuple[str, int]] = []
    machine.open(machine.plan.roots())
    machine.pump(lambda task_id, attempt: started.append((machine.names[task_id], attempt)))
    assert started == [("b", 1)]
    assert machine.state[machine.plan.index["b"]] == RUNNING and machine.running == 1
    assert machine.state[machine.plan.index["a"]] == SUCCEEDED


def test_other_outcomes_go_back_to_the_driver() -> None:
    machine, writer = machine_for(FAN)
    error = ValueError("boom")
    table = object()  # not a plain value: the driver decides (an awaitable, a table)

    def raising() -> None:
        raise error

    calls: list[Callable[[], Any] | None] = returning(VALUES, machine.names)
    calls[machine.plan.index["a"]] = raising
    calls[machine.plan.index["b"]] = lambda: table
    machine.inline_calls = calls
    raised: list[tuple[str, int, BaseException]] = []
    returned: list[tuple[str, int, Any]] = []
    machine.inline_raised = lambda task_id, attempt, caught: raised.append((machine.names[task_id], attempt, caught))
    machine.inline_returned = lambda task_id, attempt, value: returned.append((machine.names[task_id], attempt, value))
    machine.open(machine.plan.roots())
    machine.pump(lambda task_id, attempt: None)
    assert raised == [("a", 1, error)]
    assert returned == [("b", 1, table)]
    # Both are still running until the driver reports them; c succeeded in the machine.
    assert machine.running == 2
    assert [event.task for event in writer.pending if event.kind is EventKind.TASK_SUCCEEDED] == ["root", "c"]


def test_named_outputs_and_a_stopping_run_take_the_long_way() -> None:
    text = FAN.replace("config: {value: 1}}", "config: {value: 1}, outputs: {n: '${{ output }}'}}")
    machine, _ = machine_for(text)
    assert machine.tasks[machine.plan.index["a"]].outputs
    machine.inline_calls = returning(VALUES, machine.names)
    returned: list[str] = []
    machine.inline_returned = lambda task_id, attempt, value: returned.append(machine.names[task_id])
    machine.open(machine.plan.roots())
    machine.pump(lambda task_id, attempt: None)
    assert returned == ["a"]


def test_an_output_the_check_refuses_fails_the_task_inline() -> None:
    machine, writer = machine_for(FAN)
    machine.inline_calls = returning(VALUES, machine.names)
    machine.check_output = lambda output: "output too large" if output == "two" else None
    run_to_end(machine, lambda task_id, attempt: None)
    b = machine.plan.index["b"]
    assert machine.state[b] == FAILED and machine.errors[b] == "output too large"
    assert machine.running == 0
    assert [event.task for event in writer.pending if event.kind is EventKind.TASK_FAILED] == ["b"]
    assert machine.finish() is RunStatus.FAILED


STOPPING = """
name: stopping
tasks:
  - {name: a, type: contract_value, config: {value: 1}}
  - {name: cleanup, type: contract_value, depends_on: [a], run_if: all_done, config: {value: 2}}
  - {name: later, type: contract_value, depends_on: [cleanup], config: {value: 3}}
"""


def test_a_run_if_task_of_a_stopping_run_still_runs_inline() -> None:
    """After a failure stops the run, its plain dependents are skipped at once and a run_if
    task still runs (cleanup), settled by succeeded() as the run is stopping."""
    machine, writer = machine_for(STOPPING)

    def failing() -> None:
        raise ValueError("boom")

    calls: list[Callable[[], Any] | None] = returning({"a": None, "cleanup": "done", "later": None}, machine.names)
    calls[machine.plan.index["a"]] = failing
    machine.inline_calls = calls
    machine.inline_raised = lambda task_id, attempt, error: machine.attempt_failed(task_id, attempt, None, str(error))
    started: list[int] = []
    run_to_end(machine, lambda task_id, attempt: started.append(task_id))
    assert started == []
    assert machine.finish() is RunStatus.FAILED
    assert [(event.kind, event.task) for event in writer.pending if event.task is not None] == [
        (EventKind.TASK_STARTED, "a"),
        (EventKind.TASK_FAILED, "a"),
        (EventKind.TASK_SKIPPED, "later"),
        (EventKind.TASK_STARTED, "cleanup"),
        (EventKind.TASK_SUCCEEDED, "cleanup"),
    ]
    assert machine.outputs[machine.plan.index["cleanup"]] == "done"
