"""State-machine workflows: the checks of ``states:`` and the compiled form a runner walks.

A workflow with ``states:`` is a state machine whose actions are its own tasks: each state
names the tasks it runs when entered (``on_enter``, a small DAG: ``depends_on`` stays inside
the list) and those that undo them (``compensate``). Transitions leave a state on a signal
(``flowbuilder signal RUN_ID NAME``) or on how its entry actions ended, when their ``guard``
expression allows. Keeping the actions as ordinary tasks means every task field (types,
configs, retries, timeouts, ``when``, expressions) is checked and run exactly as in a DAG
workflow, by the same scheduling core; this module adds only what is about states.

:func:`compile_state_machine` checks the whole machine at once and reports each problem at
its ``FILE:LINE:COL``: duplicate state names, an unknown or missing ``initial``, unknown
target states and tasks, a task in two action lists or in none, a dependency that crosses
action lists, a guard that does not compile or reads an unknown name, a non-final state with
no way out, no final state at all. States no transition reaches are warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from flowbuilder.diagnostics import suggest
from flowbuilder.errors import Diagnostic
from flowbuilder.expressions import ExpressionError, compile_expression, iter_expressions, parse_references

if TYPE_CHECKING:
    from flowbuilder.diagnostics import Locator
    from flowbuilder.model import Workflow

GUARD_NAMES = frozenset({"signal", "state", "context", "params", "tasks"})
"""What a guard may read: the signal (``name``, ``payload``), the state (``name``), the run's
context (the merged mapping payloads of the signals that moved it), params and task results."""


@dataclass(frozen=True, slots=True)
class CompiledTransition:
    """A transition with its target as a state id; ``guard`` is the text to render, or None."""

    signal: str | None
    outcome: str | None
    target: int
    guard: str | None
    compensate: bool


@dataclass(frozen=True, slots=True)
class CompiledState:
    """A state with its action lists as task ids (in the order written)."""

    name: str
    entry: tuple[int, ...]
    compensation: tuple[int, ...]
    transitions: tuple[CompiledTransition, ...]
    final: bool


@dataclass(frozen=True, slots=True)
class StateMachine:
    """The compiled ``states:`` of a workflow (``ExecutionPlan.states``)."""

    states: tuple[CompiledState, ...]
    index: Mapping[str, int]
    initial: int

    def state(self, name: str) -> CompiledState:
        """The state called ``name`` (``KeyError`` if there is none)."""
        return self.states[self.index[name]]

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (``flowbuilder plan --json``)."""
        names = [state.name for state in self.states]
        return {
            "initial": names[self.initial],
            "final": [state.name for state in self.states if state.final],
            "transitions": [
                {"from": state.name, "to": names[t.target], "signal": t.signal, "outcome": t.outcome}
                for state in self.states
                for t in state.transitions
            ],
        }


def compile_state_machine(
    workflow: Workflow,
    index: Mapping[str, int],
    predecessors: Sequence[Sequence[int]],
    locator: Locator,
    problems: list[Diagnostic],
    omitted_tasks: frozenset[str] = frozenset(),
) -> tuple[StateMachine | None, list[Diagnostic]]:
    """Check ``workflow.states`` and compile it; returns the machine (None without states or
    when a problem was found, each added to ``problems``) and the located warnings."""
    states = workflow.states
    if states is None:
        if workflow.initial is not None:
            problems.append(locator.at(("initial",), "`initial` needs `states`", "add states: or remove initial"))
        return None, []
    found = len(problems)
    warnings: list[Diagnostic] = []
    state_index: dict[str, int] = {}
    for position, state in enumerate(states):
        if state.name in state_index:
            first = locator.at(("states", state_index[state.name], "name"), "")
            problems.append(locator.at(("states", position, "name"), f"duplicate state name {state.name!r} (first at line {first.line})",
                                       "state names must be unique; rename one"))  # fmt: skip
        else:
            state_index[state.name] = position
    if not states:
        problems.append(locator.at(("states",), "`states` needs at least one state", "add a state with final: true"))
        return None, warnings
    initial = workflow.initial
    if initial is None:
        problems.append(locator.at(("states",), "a state machine needs `initial`", "add `initial: NAME` naming the first state", key=True))  # fmt: skip
    elif initial not in state_index:
        problems.append(locator.at(("initial",), f"unknown initial state {initial!r}",
                                   suggest(initial, state_index) or "name one of the states"))  # fmt: skip
    group_of = _action_groups(workflow, index, locator, problems, omitted_tasks)
    _check_dependencies_stay_in_groups(workflow, predecessors, group_of, locator, problems)
    compiled: list[CompiledState] = []
    for position, state in enumerate(states):
        transitions = []
        if state.final and state.transitions:
            problems.append(locator.at(("states", position, "transitions"), f"final state {state.name!r} has transitions",
                                       "a run ends in a final state: remove its transitions or final: true", key=True))  # fmt: skip
        if not state.final and not state.transitions:
            problems.append(locator.at(("states", position, "name"), f"state {state.name!r} has no way out",
                                       "add transitions, or mark it final: true"))  # fmt: skip
        for number, transition in enumerate(state.transitions):
            where = ("states", position, "transitions", number)
            if (transition.signal is None) == (transition.outcome is None):
                problems.append(locator.at(where, "a transition needs exactly one of `signal` and `outcome`",
                                           "write signal: NAME (a signal) or outcome: succeeded|failed (the entry actions)"))  # fmt: skip
            if transition.outcome is not None and not state.on_enter:
                problems.append(locator.at((*where, "outcome"), f"state {state.name!r} has no on_enter actions, so no outcome",
                                           "use a signal, or add on_enter actions"))  # fmt: skip
            target = state_index.get(transition.to)
            if target is None:
                problems.append(locator.at((*where, "to"), f"unknown target state {transition.to!r}",
                                           suggest(transition.to, state_index) or "name one of the states"))  # fmt: skip
                target = -1
            guard = transition.guard
            if guard is not None:
                _check_guard(guard, (*where, "guard"), workflow, index, locator, problems)
            transitions.append(CompiledTransition(transition.signal, transition.outcome, target, guard,
                                                  transition.compensate))  # fmt: skip
        compiled.append(CompiledState(
            state.name, tuple(index[name] for name in state.on_enter if name in index),
            tuple(index[name] for name in state.compensate if name in index), tuple(transitions), state.final))  # fmt: skip
    if not any(state.final for state in states):
        problems.append(locator.at(("states",), "no final state: a run of this machine could never end",
                                   "mark the states a run ends in with final: true", key=True))  # fmt: skip
    if len(problems) > found or initial is None or initial not in state_index:
        return None, warnings
    machine = StateMachine(tuple(compiled), MappingProxyType(state_index), state_index[initial])
    for position in sorted(set(range(len(states))) - _reachable(machine)):
        warnings.append(locator.at(("states", position, "name"), f"state {states[position].name!r} is unreachable",
                                   f"no transition leads to it from the initial state {initial!r}"))  # fmt: skip
    return machine, warnings


def _action_groups(workflow: Workflow, index: Mapping[str, int], locator: Locator, problems: list[Diagnostic],
                   omitted_tasks: frozenset[str]) -> dict[int, tuple[int, str]]:  # fmt: skip
    """Task id -> (state position, list name) for every action; reports unknown, repeated and unused tasks."""
    assert workflow.states is not None
    group_of: dict[int, tuple[int, str]] = {}
    for position, state in enumerate(workflow.states):
        for field_name in ("on_enter", "compensate"):
            for number, name in enumerate(getattr(state, field_name)):
                where = ("states", position, field_name, number)
                task_id = index.get(name)
                if task_id is None:
                    if name not in omitted_tasks:
                        problems.append(locator.at(where, f"unknown task {name!r} in {field_name} of state {state.name!r}",
                                                   suggest(name, index) or "name a task of this workflow's tasks:"))  # fmt: skip
                    continue
                if task_id in group_of:
                    owner, owner_list = group_of[task_id]
                    problems.append(locator.at(where, f"task {name!r} is already in {owner_list} of state"
                                               f" {workflow.states[owner].name!r}",
                                               "each task is the action of one list; copy it under another name"))  # fmt: skip
                    continue
                group_of[task_id] = (position, field_name)
    for task_id, task in enumerate(workflow.tasks):
        if task_id not in group_of:
            problems.append(locator.at(("tasks", task_id, "name"), f"task {task.name!r} is in no state's on_enter or"
                                       " compensate, so it would never run",
                                       "list it under a state's on_enter or compensate, or remove it"))  # fmt: skip
    return group_of


def _check_dependencies_stay_in_groups(workflow: Workflow, predecessors: Sequence[Sequence[int]],
                                       group_of: Mapping[int, tuple[int, str]], locator: Locator,
                                       problems: list[Diagnostic]) -> None:  # fmt: skip
    """An action list runs as one small DAG: a dependency on a task of another list could never be met."""
    tasks = workflow.tasks
    for task_id, upstream in enumerate(predecessors):
        group = group_of.get(task_id)
        for predecessor in upstream:
            other = group_of.get(predecessor)
            if group is not None and other is not None and other != group:
                problems.append(locator.at(("tasks", task_id, "depends_on"),
                                           f"task {tasks[task_id].name!r} depends on {tasks[predecessor].name!r},"
                                           " an action of another state's list",
                                           "depends_on stays within one on_enter or compensate list; a later state"
                                           " reads an earlier task's result with tasks.NAME in its guard"))  # fmt: skip


def _check_guard(guard: str, where: tuple[Any, ...], workflow: Workflow, index: Mapping[str, int],
                 locator: Locator, problems: list[Diagnostic]) -> None:  # fmt: skip
    """A guard must hold at least one expression, each compiling and reading only :data:`GUARD_NAMES`."""
    expressions = [expression for _, expression in iter_expressions(guard)]
    if not expressions:
        problems.append(locator.at(where, f"guard {guard!r} holds no ${{{{ }}}} expression",
                                   "write it as an expression, e.g. ${{ signal.payload.amount > 0 }}"))  # fmt: skip
        return
    for expression in expressions:
        try:
            references = parse_references(expression)
            compile_expression(expression)
        except ExpressionError as error:
            problems.append(locator.at(where, f"guard does not compile: {error}",
                                       error.hint or "guards look like ${{ signal.payload.ok and params.limit > 0 }}"))  # fmt: skip
            continue
        for reference in references:
            if reference.root not in GUARD_NAMES:
                problems.append(locator.at(where, f"unknown name {reference.root!r} in guard `{expression}`",
                                           suggest(reference.root, GUARD_NAMES)
                                           or "a guard reads signal, state, context, params and tasks"))  # fmt: skip
            elif reference.root == "params" and reference.key is not None and reference.key not in workflow.params:
                problems.append(locator.at(where, f"unknown param {reference.key!r} in guard `{expression}`",
                                           suggest(reference.key, workflow.params) or "declare it under `params:`"))  # fmt: skip
            elif reference.root == "tasks" and reference.key is not None and reference.key not in index:
                problems.append(locator.at(where, f"unknown task {reference.key!r} in guard `{expression}`",
                                           suggest(reference.key, index) or "check the task name"))  # fmt: skip


def _reachable(machine: StateMachine) -> set[int]:
    seen = {machine.initial}
    stack = [machine.initial]
    while stack:
        for transition in machine.states[stack.pop()].transitions:
            if transition.target >= 0 and transition.target not in seen:
                seen.add(transition.target)
                stack.append(transition.target)
    return seen


__all__ = [
    "GUARD_NAMES",
    "CompiledState",
    "CompiledTransition",
    "StateMachine",
    "compile_state_machine",
]
