"""How ``flowbuilder runs show`` prints a state-machine run: its current state and its path.

The lines come from the fold of the run's state events
(:class:`~flowbuilder.events.MachineProgress`), so they read the same from any store and
for a run that is still waiting for a signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder.cli.terminal import one_line

if TYPE_CHECKING:
    from flowbuilder.events import MachineProgress


def state_lines(progress: MachineProgress, finished: bool) -> list[str]:
    """The ``state`` line and one line per step of the history (``#SEQ what happened``)."""
    current = progress.current or "-"
    if progress.moving is not None:
        target = progress.moving.get("to")
        current += f" (leaving for {target}, compensating)" if target else " (failing, compensating)"
    waiting = progress.waiting_signals
    if waiting and not finished:
        current += f"; signals waiting: {', '.join(str(signal['name']) for signal in waiting)}"
    lines = [f"  state      {one_line(current)}", "  history"]
    lines.extend(f"    #{step['seq']:<5} {one_line(_describe(step))}" for step in progress.history)
    return lines


def _describe(step: dict[str, Any]) -> str:
    kind = step.get("kind")
    if kind == "state_entered":
        return f"entered {step.get('state')}"
    if kind == "signal_ignored":
        return f"ignored signal {step.get('signal')} (request {step.get('request')}) in {step.get('state')}: {step.get('reason')}"
    cause = (
        f"signal {step.get('signal')} (request {step.get('request')})"
        if step.get("signal") is not None
        else f"actions {step.get('outcome')}"
    )
    target = step.get("to") or "(run fails)"
    compensate = step.get("compensate") or []
    undo = f", compensating {', '.join(compensate)}" if compensate else ""
    return f"{step.get('from')} -> {target} on {cause}{undo}"
