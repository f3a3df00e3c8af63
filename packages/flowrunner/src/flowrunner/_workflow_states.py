"""The driver of a state-machine run: which state it is in, and when and where it moves.

A state-machine workflow (``states:``, :mod:`flowbuilder.state_machines`) runs on the same
:class:`~flowrunner._scheduler.RunExecution` and :class:`~flowrunner.scheduling.RunStateMachine`
as any DAG: its plan holds every action as a task, and entering a state reopens that state's
``on_enter`` list in the scheduling machine (:meth:`RunStateMachine.reopen`), which dispatches
it like any other tasks. This module only decides *which* list runs next. The execution asks
it (:meth:`WorkflowStates.advance`) whenever the scheduling machine has nothing running or
ready: then the state's entry actions have ended, and the driver takes an ``outcome``
transition, consumes a waiting signal, runs the next compensation list, ends the run, or
waits.

Waiting costs nothing: the run's loop sleeps on its wake future, holding no slot and no
thread; a signal arrives through the control channel (:mod:`flowrunner._control`, which
records ``run_signalled`` and hands it here) and wakes it. Signals are an ordered inbox: one
that arrives while entry actions run waits until they end.

Everything the driver knows is the fold of the events it wrote
(:class:`~flowbuilder.events.MachineProgress`: ``state_entered``, ``transition_taken``,
``signal_ignored`` and the ``run_signalled`` not yet consumed), so a resumed run starts
from the stored fold: it stays in its state, reruns only the entry actions that had not
succeeded, and finishes a compensation it was in the middle of.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from flowbuilder.events import EventKind, MachineProgress, TaskStatus
from flowrunner.scheduling.state import CANCELLED, FAILED

if TYPE_CHECKING:
    from flowbuilder.events import RunState
    from flowbuilder.state_machines import CompiledState, CompiledTransition, StateMachine
    from flowrunner._scheduler import RunExecution

_ACTIONS, _COMPENSATING, _ENDED = range(3)


class WorkflowStates:
    """One state-machine run's position and its moves (use once, on the run's loop)."""

    __slots__ = ("compensations", "current", "failed", "group", "machine", "outcome_seen", "phase", "progress",
                 "run", "states", "target")  # fmt: skip

    def __init__(self, run: RunExecution, states: StateMachine, resume: RunState | None):
        self.run = run
        self.states = states
        self.machine = run.machine
        self.machine.stop_on_failure = False  # a failed action is an outcome, not the end of the run
        stored = resume.machine if resume is not None else None
        self.progress = MachineProgress.from_dict(stored.to_dict()) if stored is not None else MachineProgress()
        self.current: CompiledState | None = None
        self.phase = _ACTIONS
        self.outcome_seen = False
        """Whether the current state's entry outcome was looked at (its transitions are tried once)."""
        self.compensations: list[str] = []
        self.group: tuple[int, ...] = ()
        """The task ids of the compensation list running now."""
        self.target: int | None = None
        """Where the run goes once its compensations are done (None: it fails)."""
        self.failed = False
        """The run ends failed (read by the run's finish)."""

    # -- opening ----------------------------------------------------------------------------

    def start(self) -> list[int]:
        """A new run enters its initial state; returns the tasks to open."""
        return self._enter(self.states.initial)

    def restore(self, tasks: Mapping[str, Any]) -> list[str]:
        """Take up a stored run where it was; returns the names of the tasks to run again.

        In a state: its entry actions that had not succeeded. In a compensating transition:
        the compensation lists not yet done (the first now, the others in turn), then its
        target. Before its first state: nothing (``advance`` enters the initial state).
        """
        progress = self.progress
        states = self.states
        moving = progress.moving
        # Only what succeeded since the run entered its state (or began its move) counts: a
        # state entered again reruns actions that succeeded on an earlier visit.
        since = _last_time(progress, "transition_taken" if moving is not None else "state_entered")
        succeeded = {name for name, task in tasks.items()
                     if task.status is TaskStatus.SUCCEEDED and (task.finished_at or 0.0) >= since}  # fmt: skip
        names = self.run.plan.names
        if moving is not None:
            self.phase = _COMPENSATING
            target = moving.get("to")
            self.target = states.index[target] if isinstance(target, str) else None
            if progress.current is not None:
                self.current = states.state(progress.current)
            pending = [name for name in moving.get("compensate") or ()
                       if not all(names[t] in succeeded for t in states.state(name).compensation)]  # fmt: skip
            self.compensations = pending[1:]
            if pending:
                self.group = states.state(pending[0]).compensation
                return [names[t] for t in self.group if names[t] not in succeeded]
            return []
        if progress.current is None:
            return []
        self.current = states.state(progress.current)
        return [names[t] for t in self.current.entry if names[t] not in succeeded]

    # -- signals ----------------------------------------------------------------------------

    def signalled(self) -> None:
        """The run just recorded ``run_signalled`` (the writer's newest event): put it in the inbox."""
        self.progress.apply(self.run.writer.pending[-1])

    # -- moving -----------------------------------------------------------------------------

    def advance(self) -> bool:
        """The scheduling machine has nothing running or ready: move on. True when the run ends.

        Otherwise either tasks were opened (the driver pumps again) or the run waits for a
        signal (the scheduling machine is still done).
        """
        machine = self.machine
        while True:
            if machine.stopping:  # a cancel request: the run ends without moving
                return True
            if self.phase == _ENDED:
                return True
            if self.phase == _COMPENSATING:
                if self._step_compensation():
                    return False
                continue
            if self.current is None:  # resumed before its first state was entered
                self._open(self._enter(self.states.initial))
                if not machine.done:
                    return False
                continue
            state = self.current
            if not self.outcome_seen:
                self.outcome_seen = True
                failed = any(machine.state[t] in (FAILED, CANCELLED) for t in state.entry)
                outcome = "failed" if failed else "succeeded"
                if state.final:
                    if failed:
                        self._take(None, outcome=outcome)
                        continue
                    self.phase = _ENDED
                    return True
                transition = self._first_open(state, outcome, None)
                if transition is not None:
                    self._take(transition, outcome=outcome)
                    continue
                if failed:  # nothing handles the failure: undo what was done, and fail
                    self._take(None, outcome=outcome)
                    continue
            if not self._consume_signal(state):
                return False

    def _consume_signal(self, state: CompiledState) -> bool:
        """Take the transition of the oldest waiting signal that has one; False when none is left."""
        progress = self.progress
        while progress.waiting_signals:  # each event consumed replaces the list: read it afresh
            signal = progress.waiting_signals[0]
            reasons: list[str] = []
            transition = self._first_open(state, None, signal, reasons)
            if transition is not None:
                self._take(transition, signal=signal)
                return True
            reason = "; ".join(reasons) or f"state {state.name!r} has no transition on signal {signal['name']!r}"
            self._emit(EventKind.SIGNAL_IGNORED, {"state": state.name, "signal": signal["name"],
                                                  "request": signal["request"], "reason": reason})  # fmt: skip
        return False

    def _first_open(self, state: CompiledState, outcome: str | None, signal: Mapping[str, Any] | None,
                    reasons: list[str] | None = None) -> CompiledTransition | None:  # fmt: skip
        """The first transition of ``state`` on ``outcome`` (or on ``signal``) whose guard allows it;
        ``reasons`` collects why each guard refused."""
        for transition in state.transitions:
            if outcome is not None and transition.outcome != outcome:
                continue
            if signal is not None and transition.signal != signal["name"]:
                continue
            if transition.guard is None:
                return transition
            allowed, why = self._guard(transition.guard, state, signal)
            if allowed:
                return transition
            if reasons is not None:
                reasons.append(why)
        return None

    def _guard(self, guard: str, state: CompiledState, signal: Mapping[str, Any] | None) -> tuple[bool, str]:
        from flowbuilder.expressions import ExpressionError, is_truthy, render

        machine = self.machine
        scope = {
            "signal": {"name": signal["name"], "payload": signal["payload"]} if signal else {"name": None,
                                                                                          "payload": None},
            "state": {"name": state.name},
            "context": self.progress.context,
            "params": self.run.params,
            "tasks": {name: machine.task_result(task_id) for task_id, name in enumerate(machine.names)},
        }  # fmt: skip
        try:
            if is_truthy(render(guard, scope)):
                return True, ""
            return False, f"guard is false: {guard}"
        except ExpressionError as error:
            return False, f"guard failed: {error}"

    def _take(self, transition: CompiledTransition | None, *, outcome: str | None = None,
              signal: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        """Record the move out of the current state, then compensate (if asked) and enter the target.

        ``transition`` None: the run fails, after the compensations of every completed state.
        """
        state = self.current
        assert state is not None
        actions = "none" if not state.entry else (
            "failed" if any(self.machine.state[t] in (FAILED, CANCELLED) for t in state.entry) else "succeeded")  # fmt: skip
        compensate: list[str] = []
        if transition is None or transition.compensate:
            done = [*self.progress.completed, *([state.name] if actions != "failed" else [])]
            for name in reversed(done):
                if name not in compensate and self.states.state(name).compensation:
                    compensate.append(name)
        target = None if transition is None else self.states.states[transition.target].name
        data: dict[str, Any] = {"from": state.name, "to": target, "actions": actions, "compensate": compensate}
        if signal is not None:
            data.update(signal=signal["name"], request=signal["request"], payload=signal["payload"])
        if outcome is not None:
            data["outcome"] = outcome
        self._emit(EventKind.TRANSITION_TAKEN, data)
        self.phase = _COMPENSATING
        self.compensations = list(compensate)  # popped as each list runs: never the recorded event's
        self.group = ()
        self.target = None if transition is None else transition.target

    def _step_compensation(self) -> bool:
        """Start the next compensation list, or enter the target; True when tasks were opened."""
        machine = self.machine
        if any(machine.state[t] in (FAILED, CANCELLED) for t in self.group):
            self.failed = True  # an undo that failed: nothing more can be trusted to move the run
            self.phase = _ENDED
            return False
        while self.compensations:
            self.group = self.states.state(self.compensations.pop(0)).compensation
            self._open(machine.reopen(self.group))
            if not machine.done:
                return True
        self.group = ()
        if self.target is None:
            self.failed = True
            self.phase = _ENDED
            return False
        self._open(self._enter(self.target))
        return not machine.done

    def _enter(self, state_id: int) -> list[int]:
        state = self.current = self.states.states[state_id]
        self.phase = _ACTIONS
        self.outcome_seen = False
        self._emit(EventKind.STATE_ENTERED, {"state": state.name})
        return self.machine.reopen(state.entry) if state.entry else []

    def _open(self, roots: list[int]) -> None:
        self.machine.open(roots)

    def _emit(self, kind: EventKind, data: dict[str, Any]) -> None:
        writer = self.run.writer
        writer.emit(kind, data=data)
        self.progress.apply(writer.pending[-1])


def _last_time(progress: MachineProgress, kind: str) -> float:
    """When the newest step of ``kind`` in the history was recorded (0 when there is none)."""
    for step in reversed(progress.history):
        if step.get("kind") == kind:
            return float(step.get("time") or 0.0)
    return 0.0
