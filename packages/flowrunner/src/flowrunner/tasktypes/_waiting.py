"""What the runner needs of a task type whose attempts *wait* (``approval``, ``wait``).

A waiting task does no work: it waits for a signal or a time, for minutes or weeks. So it
is not run by an attempt executor (which would hold a thread, a slot of the run's
``concurrency`` and of its pool for the whole wait); the run's driver
(:mod:`flowrunner._waits`) asks the type what the wait is (:meth:`WaitingTaskType.plan_wait`),
records it as ``task_waiting`` with its absolute wall-clock end, frees the slot
(:meth:`flowrunner.scheduling.RunStateMachine.wait`) and later asks the type what a signal or
the end of the time means (:meth:`~WaitingTaskType.on_signal`, :meth:`~WaitingTaskType.on_time`).

This is flowrunner's own seam for its built-in types, not yet a plugin extension point:
a plugin's task type is always run as attempts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Mapping

from pydantic import BaseModel

from flowbuilder.interfaces import ExecutionMode, TaskContext, TaskFailure, TaskType

MAX_WAIT_SECONDS = 10 * 366 * 86400.0
"""The longest wait or approval timeout a workflow may ask for (ten years): longer is a typo."""


@dataclass(frozen=True, slots=True)
class WaitPlan:
    """What one waiting attempt waits for.

    ``until``: the wall-clock instant (seconds since the epoch) at which the wait ends by
    itself, or None (only a signal ends it); ``signal``: the signal name that may end it, or
    None; ``details``: more of what ``task_waiting`` records and ``runs show`` prints
    (``approvers``, ``default``, ``message``).
    """

    until: float | None
    signal: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def event_data(self, since: float) -> dict[str, Any]:
        """The data of ``task_waiting``."""
        data: dict[str, Any] = {"since": since}
        if self.until is not None:
            data["until"] = self.until
            data["until_iso"] = iso_time(self.until)
        if self.signal is not None:
            data["signal"] = self.signal
        data.update(self.details)
        return data


@dataclass(frozen=True, slots=True)
class WaitOutcome:
    """What a signal or the end of the time does to a wait.

    ``kind``: ``succeeded`` (the task ends with ``output``), ``failed`` (the task fails with
    ``message``, never retried: the same decision would fail it again) or ``refused`` (the
    signal is recorded as ``task_signal_refused`` with ``message`` as the reason and the
    task goes on waiting).
    """

    kind: Literal["succeeded", "failed", "refused"]
    output: Any = None
    message: str = ""


class WaitingTaskType(TaskType):
    """A task type whose attempts wait in the scheduler instead of running (see the module doc)."""

    mode: ClassVar[ExecutionMode] = ExecutionMode.INLINE

    def plan_wait(self, config: BaseModel, now: float) -> WaitPlan:
        """The wait of an attempt starting at wall-clock ``now``; raise TaskFailure when it cannot wait."""
        raise NotImplementedError

    def on_signal(self, config: BaseModel, signal: Mapping[str, Any]) -> WaitOutcome:
        """What the signal (``run_signalled`` data: ``name``, ``payload``, ``by``, ``request``,
        ``reason``) means for a wait on its name."""
        return WaitOutcome("refused", message="this task takes no signal")

    def on_time(self, config: BaseModel, plan: WaitPlan) -> WaitOutcome:
        """What the end of the wait's time means."""
        raise NotImplementedError

    def why_not_stoppable(self, config: BaseModel) -> str | None:
        return (
            f"a {self.name} task waits without an attempt, so the task's timeout and deadline do not apply;"
            " give the wait's own limit in its config"
        )

    def run(self, config: BaseModel, context: TaskContext) -> Any:
        """Reached only when the runner cannot wait (inside ``foreach``): a clear, final failure."""
        raise TaskFailure(
            f"a {self.name} task waits in the scheduler and cannot run as an attempt (foreach over it is not supported)",
            retryable=False,
        )


def iso_time(instant: float) -> str:
    """``2026-12-06T08:00:00Z`` (UTC, seconds) for a wall-clock instant."""
    return datetime.fromtimestamp(instant, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: Any) -> float:
    """Seconds since the epoch from an ISO 8601 time with a zone (``2026-12-06T08:00:00Z``)."""
    if isinstance(value, bool) or not isinstance(value, (str, datetime)):
        raise ValueError("write a time as ISO 8601 text with a zone, e.g. '2026-12-06T08:00:00Z'")
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time; write e.g. '2026-12-06T08:00:00Z'") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add one ('Z' for UTC, or '+02:00')")
    instant = moment.timestamp()
    try:  # 9999-12-31T23:00-05:00 is a year-10000 instant: it could never be shown (iso_time) nor reached
        datetime.fromtimestamp(instant, UTC)
    except (OverflowError, ValueError, OSError):
        raise ValueError(f"{value!r} is outside the years 1 to 9999 in UTC; write a time within them") from None
    return instant
