"""State-machine workflows in core: the compiled form, the warnings, and the fold of state events.

The located errors of every check live in ``invalid/states_*.yaml`` (test_invalid_workflows);
running a machine is flowrunner's (packages/flowrunner/tests/test_workflow_states.py).
"""

from __future__ import annotations

import textwrap
from typing import Any

from flowbuilder.events import EventKind, RunEvent, RunState, fold_events
from flowbuilder.loader import load_plan
from flowbuilder.plan import ExecutionPlan
from flowbuilder.plugins import PluginHost

ORDER = """
name: order
params: {amount: {type: number, default: 10}}
initial: created
states:
  - name: created
    on_enter: [record]
    transitions:
      - {signal: pay, to: paid, guard: "${{ signal.payload.amount >= params.amount }}"}
      - {signal: cancel, to: cancelled}
  - name: paid
    on_enter: [charge, receipt]
    compensate: [refund]
    transitions:
      - {signal: cancel, to: cancelled, compensate: true}
      - {outcome: failed, to: cancelled, compensate: true}
  - name: cancelled
    final: true
  - name: archived
    final: true
tasks:
  - {name: record, type: shell, config: {command: x}}
  - {name: charge, type: shell, config: {command: x}}
  - {name: receipt, type: shell, depends_on: [charge], config: {command: x}}
  - {name: refund, type: shell, config: {command: x}}
"""


def plan_of(text: str, host: PluginHost) -> ExecutionPlan:
    return load_plan(textwrap.dedent(text).lstrip(), host)


def test_states_compile_to_ids_with_actions_as_the_plans_tasks(host: PluginHost) -> None:
    plan = plan_of(ORDER, host)
    machine = plan.states
    assert machine is not None
    assert machine.states[machine.initial].name == "created"
    paid = machine.state("paid")
    assert [plan.names[t] for t in paid.entry] == ["charge", "receipt"]
    assert [plan.names[t] for t in paid.compensation] == ["refund"]
    [on_cancel, on_failure] = paid.transitions
    assert machine.states[on_cancel.target].name == "cancelled" and on_cancel.compensate
    assert on_failure.outcome == "failed" and on_failure.signal is None
    assert plan.summary()["states"]["final"] == ["cancelled", "archived"]


def test_a_dag_workflow_has_no_state_machine(host: PluginHost) -> None:
    plan = plan_of("name: dag\ntasks: [{name: a, type: shell, config: {command: x}}]\n", host)
    assert plan.states is None and "states" not in plan.summary()


def test_an_unreachable_state_is_a_located_warning_not_an_error(host: PluginHost) -> None:
    plan = plan_of(ORDER, host)
    [warning] = plan.warnings
    assert (warning.line, warning.column) == (18, 11)  # `name: archived`
    assert "state 'archived' is unreachable" in warning.message


def _event(seq: int, kind: EventKind, **data: Any) -> RunEvent:
    return RunEvent("r", seq, kind, data=data, time=float(seq))


def _history(*kinds_and_data: tuple[EventKind, dict[str, Any]]) -> RunState:
    events = [_event(1, EventKind.RUN_CREATED, workflow="order"), _event(2, EventKind.RUN_STARTED)]
    events += [_event(seq, kind, **data) for seq, (kind, data) in enumerate(kinds_and_data, start=3)]
    return fold_events("r", events)


def test_the_fold_tracks_the_state_the_signals_waiting_and_the_context() -> None:
    state = _history(
        (EventKind.STATE_ENTERED, {"state": "created"}),
        (EventKind.RUN_SIGNALLED, {"request": 1, "name": "pay", "payload": {"amount": 5}}),
        (EventKind.SIGNAL_IGNORED, {"state": "created", "signal": "pay", "request": 1, "reason": "guard is false"}),
        (EventKind.RUN_SIGNALLED, {"request": 2, "name": "pay", "payload": {"amount": 50, "card": "visa"}}),
        (EventKind.RUN_SIGNALLED, {"request": 3, "name": "cancel", "payload": None}),
        (EventKind.TRANSITION_TAKEN, {"from": "created", "to": "paid", "actions": "succeeded", "compensate": [],
                                      "signal": "pay", "request": 2, "payload": {"amount": 50, "card": "visa"}}),
        (EventKind.STATE_ENTERED, {"state": "paid"}),
    )  # fmt: skip
    machine = state.machine
    assert machine is not None
    assert machine.current == "paid" and machine.moving is None
    assert [signal["request"] for signal in machine.waiting_signals] == [3]  # 1 ignored, 2 consumed
    assert machine.context == {"amount": 50, "card": "visa"}
    assert machine.completed == ["created"]
    assert [step["kind"] for step in machine.history] == ["state_entered", "signal_ignored", "transition_taken",
                                                          "state_entered"]  # fmt: skip
    assert state.control_seen == 3  # signals are control requests too


def test_a_compensating_transition_is_moving_until_its_target_is_entered_and_undoes_completed_states() -> None:
    state = _history(
        (EventKind.STATE_ENTERED, {"state": "created"}),
        (EventKind.TRANSITION_TAKEN, {"from": "created", "to": "paid", "actions": "succeeded", "compensate": []}),
        (EventKind.STATE_ENTERED, {"state": "paid"}),
        (EventKind.TRANSITION_TAKEN, {"from": "paid", "to": "cancelled", "actions": "succeeded",
                                      "compensate": ["paid"]}),
    )  # fmt: skip
    machine = state.machine
    assert machine is not None
    assert machine.current == "paid" and machine.moving is not None and machine.moving["to"] == "cancelled"
    assert machine.completed == ["created"]  # paid was completed, then compensated


def test_a_state_whose_actions_failed_is_not_completed() -> None:
    state = _history(
        (EventKind.STATE_ENTERED, {"state": "paid"}),
        (EventKind.TRANSITION_TAKEN, {"from": "paid", "to": None, "actions": "failed", "compensate": []}),
    )
    assert state.machine is not None and state.machine.completed == []


def test_the_state_machine_progress_survives_a_snapshot() -> None:
    state = _history(
        (EventKind.STATE_ENTERED, {"state": "created"}),
        (EventKind.RUN_SIGNALLED, {"request": 1, "name": "pay", "payload": {"amount": 1}}),
    )
    again = RunState.from_dict(state.to_dict())
    assert again.machine is not None and state.machine is not None
    assert again.machine.to_dict() == state.machine.to_dict()
    assert again.machine.waiting_signals == [{"request": 1, "name": "pay", "payload": {"amount": 1}}]


def test_a_dag_run_has_no_state_machine_progress_even_when_signalled() -> None:
    state = _history((EventKind.RUN_SIGNALLED, {"request": 1, "name": "go", "payload": None}))
    assert state.machine is None and "machine" not in state.to_dict()
