"""The waits of one run: approvals and timers, on the run's loop, holding no worker slot.

A task of a :class:`~flowrunner.tasktypes._waiting.WaitingTaskType` is started by the state
machine like any task (``task_started``); the driver hands it here instead of to an executor.
:meth:`WaitRoom.begin` asks the type for the wait (:class:`WaitPlan`), tells the machine
(:meth:`~flowrunner.scheduling.RunStateMachine.wait`: ``task_waiting`` with the absolute
wall-clock ``until``, the slot given back) and sets one loop timer for the end of the time.

Durability comes from the history, not from this object:

* a resumed run finds the task's earlier ``task_waiting`` in its folded state
  (``TaskState.waiting``) and keeps that ``until``, so it waits only for the time left;
* signals are recorded as ``run_signalled`` by :mod:`flowrunner._control` whether or not a
  task waits for them yet; those no task has taken (``RunState.signals`` on resume, and any
  received since) wait in a mailbox here, and a task that starts waiting for a name takes the
  oldest one first. Taking or refusing one is recorded with its ``signal_request`` number,
  so a resume never applies it twice.

Timers use the loop's monotonic clock for the time left, measured from the wall-clock
``until``: a wall clock set forward or back while a wait runs moves nothing until the
next resume, which measures again.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Mapping

from flowbuilder.events import MAX_UNTAKEN_SIGNALS, EventKind
from flowbuilder.interfaces import TaskFailure
from flowrunner.tasktypes._waiting import WaitingTaskType, WaitOutcome, WaitPlan

if TYPE_CHECKING:
    from flowrunner._scheduler import RunExecution


class WaitRoom:
    """The waiting tasks of one run and the signals waiting for them (use on the run's loop)."""

    __slots__ = ("run", "types", "plans", "configs", "timers", "mailbox", "previous")

    def __init__(self, run: RunExecution, types: Mapping[int, WaitingTaskType]):
        self.run = run
        self.types = types
        """Task id -> its waiting type, for the tasks of the run that wait."""
        self.plans: dict[int, WaitPlan] = {}
        self.configs: dict[int, Any] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.mailbox: list[dict[str, Any]] = []
        """Recorded signals no task took yet, oldest first (``run_signalled`` data)."""
        self.previous: dict[int, Mapping[str, Any]] = {}
        """Task id -> the ``task_waiting`` data of a wait an earlier process started (resume)."""
        resume = run.request.resume
        if resume is not None:
            index = run.plan.index
            for name, task_state in resume.tasks.items():
                task_id = index.get(name)
                if task_id is not None and task_id in types and task_state.waiting is not None:
                    self.previous[task_id] = task_state.waiting
            if run.request.retry is None:  # a retry of a finished run decides afresh: old signals stay unused
                self.mailbox.extend(dict(signal) for signal in resume.signals)

    def takes(self, task_id: int) -> bool:
        return task_id in self.types

    def begin(self, task_id: int, attempt: int) -> None:
        """Start the wait of the attempt the state machine just started (its slot is freed here)."""
        run = self.run
        machine = run.machine
        task_type = self.types[task_id]
        inputs = run.inputs
        try:
            scope = inputs.scope(task_id) if task_id in run.plan.expression_tasks else None
            config = inputs.config(task_id, scope)
            now = time.time()
            plan = task_type.plan_wait(config, now)
        except TaskFailure as failure:
            run._failed(task_id, attempt, failure, str(failure))
            return
        except Exception as error:
            run._failed(task_id, attempt, TaskFailure(str(error), retryable=False), str(error))
            return
        since = now
        earlier = self.previous.pop(task_id, None)
        if earlier is not None:  # resumed: the wait began in an earlier process
            if isinstance(earlier.get("since"), (int, float)):
                since = float(earlier["since"])
            until = earlier.get("until")
            if plan.until is not None and isinstance(until, (int, float)):
                plan = WaitPlan(float(until), plan.signal, plan.details)  # it ends when that one said
            plan = WaitPlan(plan.until, plan.signal, {**plan.details, "resumed": True})
        self.plans[task_id] = plan
        self.configs[task_id] = config
        machine.wait(task_id, attempt, plan.event_data(since))
        if plan.until is not None:
            loop = run.loop
            assert loop is not None
            self.timers[task_id] = loop.call_later(max(0.0, plan.until - time.time()), self._time_up, task_id)
        if plan.signal is not None:
            for signal in list(self.mailbox):
                if signal.get("name") == plan.signal and self._offer(task_id, signal):
                    break

    def signalled(self, signal: Mapping[str, Any]) -> None:
        """A signal was recorded (``run_signalled`` data): the first task waiting for its name takes it."""
        entry = dict(signal)
        self.mailbox.append(entry)
        if len(self.mailbox) > MAX_UNTAKEN_SIGNALS:  # as the fold does: the oldest untaken is forgotten
            del self.mailbox[0]
        name = entry.get("name")
        waits = self.run.machine.waits
        for task_id, plan in list(self.plans.items()):
            if plan.signal == name and task_id in waits and self._offer(task_id, entry):
                return

    def _offer(self, task_id: int, signal: dict[str, Any]) -> bool:
        """Offer ``signal`` to the waiting ``task_id``; True when the wait ended with it."""
        self.mailbox.remove(signal)
        outcome = self.types[task_id].on_signal(self.configs[task_id], signal)
        request = signal.get("request")
        if outcome.kind == "refused":
            machine = self.run.machine
            machine.writer.emit(EventKind.TASK_SIGNAL_REFUSED, machine.names[task_id], machine.waits.get(task_id, 0),
                                {"signal_request": request, "name": signal.get("name"), "by": signal.get("by"),
                                 "reason": outcome.message})  # fmt: skip
            self.run._wake()
            return False
        self._end(task_id, outcome, {"ended_by": "signal", "signal_request": request, "by": signal.get("by")})
        return True

    def _time_up(self, task_id: int) -> None:
        self.timers.pop(task_id, None)
        plan = self.plans.get(task_id)
        if plan is None:
            return
        self._end(task_id, self.types[task_id].on_time(self.configs[task_id], plan), {"ended_by": "time"})

    def _end(self, task_id: int, outcome: WaitOutcome, details: dict[str, Any]) -> None:
        self.plans.pop(task_id, None)
        self.configs.pop(task_id, None)
        timer = self.timers.pop(task_id, None)
        if timer is not None:
            timer.cancel()
        machine = self.run.machine
        if outcome.kind == "succeeded":
            machine.wait_succeeded(task_id, outcome.output, details)
        else:
            machine.wait_failed(task_id, outcome.message, details)

    def close(self) -> None:
        """Cancel the timers (the run ends: a stop or cancel already recorded what still waited)."""
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        self.plans.clear()
        self.configs.clear()
