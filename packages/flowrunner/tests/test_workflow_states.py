"""State-machine workflows run on the scheduling core: signals, guards, outcomes, compensation.

Each run executes in a thread on a ``memory://`` store; signals arrive as control requests
from this thread, exactly as ``flowbuilder signal`` records them from another process. The
CLI, RocksDB, Redis and SIGKILL cases are in tests/test_order_state_machine.py.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from flowrunner_helpers import TASK_TYPES, plan_of

from flowbuilder.control import ControlRequest
from flowbuilder.events import EventKind, RunStatus, TaskStatus
from flowbuilder.interfaces import RunRequest, RunResult
from flowbuilder.params import resolve_params
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner

OK = 'config: {callable: "operator:add", args: [1, 2]}'
FAILS = 'config: {callable: "operator:truediv", args: [1, 0]}'
SLOW = 'config: {callable: "asyncio:sleep", args: [0.3]}'

ORDER = f"""
name: order
params: {{amount: {{type: number, default: 10}}}}
initial: created
states:
  - name: created
    on_enter: [record]
    transitions:
      - {{signal: pay, to: paid, guard: "${{{{ signal.payload.amount >= params.amount }}}}"}}
      - {{signal: cancel, to: cancelled}}
  - name: paid
    on_enter: [charge]
    compensate: [refund]
    transitions:
      - {{signal: ship, to: shipping}}
      - {{signal: cancel, to: refunded, compensate: true}}
  - name: shipping
    on_enter: [book]
    transitions:
      - {{outcome: succeeded, to: delivered, guard: "${{{{ context.amount > 0 }}}}"}}
      - {{outcome: failed, to: refunded, compensate: true}}
  - {{name: delivered, final: true}}
  - {{name: cancelled, final: true}}
  - {{name: refunded, final: true}}
tasks:
  - {{name: record, type: python, {OK}}}
  - {{name: charge, type: python, {OK}}}
  - {{name: refund, type: python, {OK}}}
  - {{name: book, type: python, {{book}}}}
"""


def _order(book: str = OK) -> str:
    return ORDER.replace("{book}", book)


def _store() -> MemoryStore:
    return MemoryStore.open(f"memory://states-{uuid.uuid4().hex}")


_STARTED: list[Running] = []


@pytest.fixture(autouse=True)
def _no_run_left_waiting() -> Iterator[None]:
    """A test that fails leaves no run waiting for a signal (its thread would keep pytest alive)."""
    yield
    while _STARTED:
        run = _STARTED.pop()
        if run.thread.is_alive():
            run.store.request_control(run.run_id, ControlRequest("cancel", by="test teardown"))
            run.thread.join(timeout=30)


class Running:
    """A state-machine run in a thread of its own, signalled from the test's thread."""

    def __init__(self, text: str, store: MemoryStore | None = None, **params: Any):
        self.store = store or _store()
        self.run_id = uuid.uuid4().hex
        self.results: list[RunResult] = []
        plan = plan_of(text)
        request = RunRequest(plan=plan, run_id=self.run_id, store=self.store,
                             params=resolve_params(plan.workflow, params))  # fmt: skip
        runner = LocalRunner(TASK_TYPES)
        self.thread = threading.Thread(target=lambda: self.results.append(asyncio.run(runner.run_async(request))))
        self.thread.start()
        _STARTED.append(self)

    def kinds(self) -> list[str]:
        return [event.kind.value for event in self.store.read_events(self.run_id)]

    def events(self, kind: EventKind) -> list[Any]:
        return [event for event in self.store.read_events(self.run_id) if event.kind is kind]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"not reached in time; events: {self.kinds()}"
            time.sleep(0.01)

    def in_state(self, name: str) -> bool:
        if not self.store.read_events(self.run_id):
            return False  # not started yet
        machine = self.store.load_state(self.run_id).machine
        return machine is not None and machine.current == name

    def signal(self, name: str, payload: Any = None) -> int:
        recorded = self.store.request_control(self.run_id, ControlRequest("signal", name=name, payload=payload))
        return recorded.number

    def result(self) -> RunResult:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), f"the run did not end; events: {self.kinds()}"
        return self.results[0]


def test_signals_move_the_run_through_its_states_to_a_final_one() -> None:
    run = Running(_order())
    run.wait_for(lambda: run.in_state("created") and run.store.load_state(run.run_id).tasks["record"].status
                 is TaskStatus.SUCCEEDED)  # fmt: skip
    run.signal("pay", {"amount": 25})
    run.wait_for(lambda: run.in_state("paid"))
    run.signal("ship")
    result = run.result()
    assert result.status is RunStatus.SUCCEEDED
    machine = run.store.load_state(run.run_id).machine
    assert machine is not None and machine.current == "delivered"
    path = [(step["kind"], step.get("state") or step.get("to")) for step in machine.history]
    assert path == [("state_entered", "created"), ("transition_taken", "paid"), ("state_entered", "paid"),
                    ("transition_taken", "shipping"), ("state_entered", "shipping"),
                    ("transition_taken", "delivered"), ("state_entered", "delivered")]  # fmt: skip
    [by_signal, _, by_outcome] = [step for step in machine.history if step["kind"] == "transition_taken"][:3]
    assert by_signal["signal"] == "pay" and by_signal["request"] == 1 and by_signal["payload"] == {"amount": 25}
    assert by_outcome["outcome"] == "succeeded"
    assert result.tasks["refund"].status is TaskStatus.SKIPPED  # never reached


def test_a_signal_whose_guard_is_false_is_ignored_with_the_reason_and_the_run_stays() -> None:
    run = Running(_order())
    run.wait_for(lambda: run.in_state("created"))
    run.signal("pay", {"amount": 3})  # less than params.amount
    run.signal("pay", {})  # no amount at all: the guard fails, it does not crash the run
    run.wait_for(lambda: len(run.events(EventKind.SIGNAL_IGNORED)) == 2)
    first, second = run.events(EventKind.SIGNAL_IGNORED)
    assert first.data["reason"].startswith("guard is false") and first.data["request"] == 1
    assert second.data["reason"].startswith("guard failed") and second.data["state"] == "created"
    assert run.in_state("created")
    run.signal("cancel")
    assert run.result().status is RunStatus.SUCCEEDED
    assert run.in_state("cancelled")


def test_a_signal_no_transition_of_the_state_takes_is_ignored() -> None:
    run = Running(_order())
    run.wait_for(lambda: run.in_state("created"))
    run.signal("ship")  # only from paid
    run.wait_for(lambda: run.events(EventKind.SIGNAL_IGNORED))
    [ignored] = run.events(EventKind.SIGNAL_IGNORED)
    assert ignored.data["reason"] == "state 'created' has no transition on signal 'ship'"
    run.signal("cancel")
    run.result()


def test_cancelling_after_payment_runs_the_compensation_before_entering_the_target() -> None:
    run = Running(_order())
    run.wait_for(lambda: run.in_state("created"))
    run.signal("pay", {"amount": 10})
    run.signal("cancel")
    result = run.result()
    assert result.status is RunStatus.SUCCEEDED and run.in_state("refunded")
    kinds = run.kinds()
    [taken] = [e for e in run.events(EventKind.TRANSITION_TAKEN) if e.data["to"] == "refunded"]
    assert taken.data["compensate"] == ["paid"] and taken.data["signal"] == "cancel"
    refund_started = [e.seq for e in run.events(EventKind.TASK_STARTED) if e.task == "refund"]
    [entered] = [e.seq for e in run.events(EventKind.STATE_ENTERED) if e.data["state"] == "refunded"]
    assert taken.seq < refund_started[0] < entered, kinds
    assert result.tasks["refund"].status is TaskStatus.SUCCEEDED


def test_failed_entry_actions_take_the_failed_outcome_with_compensation() -> None:
    run = Running(_order(book=FAILS))
    run.wait_for(lambda: run.in_state("created"))
    run.signal("pay", {"amount": 10})
    run.signal("ship")
    result = run.result()
    assert result.status is RunStatus.SUCCEEDED and run.in_state("refunded")
    assert result.tasks["book"].status is TaskStatus.FAILED
    assert result.tasks["refund"].status is TaskStatus.SUCCEEDED
    [taken] = [e for e in run.events(EventKind.TRANSITION_TAKEN) if e.data["from"] == "shipping"]
    assert taken.data["outcome"] == "failed" and taken.data["actions"] == "failed"
    assert taken.data["compensate"] == ["paid"]  # shipping itself failed: nothing of it to undo


UNHANDLED_FAILURE = f"""
name: saga
initial: reserve
states:
  - name: reserve
    on_enter: [hold_room]
    compensate: [release_room]
    transitions: [{{outcome: succeeded, to: book}}]
  - name: book
    on_enter: [hold_flight]
    compensate: [release_flight]
    transitions: [{{outcome: succeeded, to: pay}}]
  - name: pay
    on_enter: [charge]
    transitions: [{{outcome: succeeded, to: done}}]
  - {{name: done, final: true}}
tasks:
  - {{name: hold_room, type: python, {OK}}}
  - {{name: release_room, type: python, {OK}}}
  - {{name: hold_flight, type: python, {OK}}}
  - {{name: release_flight, type: python, {OK}}}
  - {{name: charge, type: python, {FAILS}}}
"""


def test_a_failure_no_transition_handles_undoes_the_completed_states_newest_first_and_fails_the_run() -> None:
    run = Running(UNHANDLED_FAILURE)
    result = run.result()
    assert result.status is RunStatus.FAILED
    [taken] = run.events(EventKind.TRANSITION_TAKEN)[-1:]
    assert taken.data["to"] is None and taken.data["compensate"] == ["book", "reserve"]
    releases = [e.task for e in run.events(EventKind.TASK_SUCCEEDED) if e.task.startswith("release")]
    assert releases == ["release_flight", "release_room"]
    assert run.in_state("pay")


def test_a_signal_that_arrives_while_entry_actions_run_waits_until_they_end() -> None:
    text = f"""
name: queued
initial: working
states:
  - name: working
    on_enter: [slow]
    transitions: [{{signal: done, to: finished}}]
  - {{name: finished, final: true}}
tasks:
  - {{name: slow, type: python, {SLOW}}}
"""
    run = Running(text)
    run.wait_for(lambda: run.events(EventKind.TASK_STARTED))
    run.signal("done")
    assert run.result().status is RunStatus.SUCCEEDED
    kinds = run.kinds()
    assert kinds.index("task_succeeded") < kinds.index("transition_taken")


def test_re_entering_a_state_runs_its_entry_actions_again_with_the_next_attempt_number() -> None:
    text = f"""
name: loop
initial: asking
states:
  - name: asking
    on_enter: [ask]
    transitions:
      - {{signal: again, to: asking}}
      - {{signal: stop, to: stopped}}
  - {{name: stopped, final: true}}
tasks:
  - {{name: ask, type: python, {OK}}}
"""
    run = Running(text)
    run.wait_for(lambda: run.events(EventKind.TASK_SUCCEEDED))
    run.signal("again")
    run.wait_for(lambda: len(run.events(EventKind.TASK_SUCCEEDED)) == 2)
    run.signal("stop")
    result = run.result()
    assert [e.attempt for e in run.events(EventKind.TASK_STARTED)] == [1, 2]
    assert result.tasks["ask"].status is TaskStatus.SUCCEEDED and result.tasks["ask"].output == 3


def test_a_cancel_request_ends_a_waiting_run_as_cancelled() -> None:
    run = Running(_order())
    run.wait_for(lambda: run.in_state("created") and "task_succeeded" in run.kinds())
    run.store.request_control(run.run_id, ControlRequest("cancel", by="ops"))
    assert run.result().status is RunStatus.CANCELLED
    assert run.in_state("created")


def test_the_state_machine_example_of_docs_dsl_runs_to_its_final_state(tmp_path: Path) -> None:
    """The example under "State machines" in docs/dsl.md (marked <!-- test: state-machine -->)."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "dsl.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- test: state-machine -->\n```yaml\n(.*?)```", doc, re.S)
    assert match is not None, "docs/dsl.md lost its tested state-machine example"
    run = Running(match.group(1))
    run.wait_for(lambda: run.in_state("waiting"))
    run.signal("approve", {"by": "ada"})
    result = run.result()
    assert result.status is RunStatus.SUCCEEDED and run.in_state("published")


def test_a_run_resumed_in_a_state_entered_again_reruns_the_actions_of_that_visit() -> None:
    """Actions that succeeded on an earlier visit of the state do not count for the new one."""
    text = f"""
name: loop
initial: asking
states:
  - name: asking
    on_enter: [ask]
    transitions:
      - {{signal: again, to: asking}}
      - {{signal: stop, to: stopped}}
  - {{name: stopped, final: true}}
tasks:
  - {{name: ask, type: python, {OK}}}
"""
    first = Running(text)
    first.wait_for(lambda: first.events(EventKind.TASK_SUCCEEDED))
    first.signal("again")
    first.wait_for(lambda: len(first.events(EventKind.STATE_ENTERED)) == 2)
    first.signal("stop")
    first.result()
    # The process "died" right after entering the state the second time: keep the history to there.
    events = first.store.read_events(first.run_id)
    second_entry = [e.seq for e in events if e.kind is EventKind.STATE_ENTERED][1]
    store = _store()
    store.append_events(first.run_id, events[:second_entry], 0)
    store.request_control(first.run_id, ControlRequest("signal", name="again"))  # request 1, already honoured
    resumed: list[RunResult] = []
    request = RunRequest(plan=plan_of(text), run_id=first.run_id, store=store, resume=store.load_state(first.run_id))
    thread = threading.Thread(target=lambda: resumed.append(asyncio.run(LocalRunner(TASK_TYPES).run_async(request))))
    thread.start()
    deadline = time.monotonic() + 20
    while len([e for e in store.read_events(first.run_id) if e.kind is EventKind.TASK_SUCCEEDED]) < 2:
        assert time.monotonic() < deadline, [e.kind.value for e in store.read_events(first.run_id)]
        time.sleep(0.01)
    store.request_control(first.run_id, ControlRequest("signal", name="stop"))
    thread.join(timeout=30)
    assert resumed and resumed[0].status is RunStatus.SUCCEEDED
    started = [e.attempt for e in store.read_events(first.run_id) if e.kind is EventKind.TASK_STARTED]
    assert started == [1, 2]
