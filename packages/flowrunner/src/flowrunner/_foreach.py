"""One attempt of a ``foreach`` task: each item an attempt through the run's executors.

The task's attempt is submitted here like any other (this is an AttemptExecutor for that
one attempt); each item then becomes its own :class:`Attempt` (``name[i]``), rendered by
the run's :class:`~flowrunner.scheduling.inputs.AttemptInputs` and run by the executor of
its execution mode, at most ``max_parallel`` at a time (default: the run's concurrency; an
item waiting for its retry keeps its place). A failed item asks the state machine's one
retry rule (:meth:`~flowrunner.scheduling.state.RunStateMachine.retry_decision`): the
task's retry policy, ``retry_on``, the run stopping and the task's ``deadline`` all apply
per item. With ``on_item_failure: fail_fast`` (the default) the first item that fails for
good cancels the others and fails the task; with ``continue`` every item runs and the task
fails once all have ended if any failed, with an error naming them. Either way the task is
then not retried as a whole (its items were). The task's output is the list of the items'
outputs, in item order (a failed task, as any, records none).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

from flowbuilder.interfaces import Attempt, AttemptExecutor, AttemptOutcome, TaskFailure

if TYPE_CHECKING:
    from flowbuilder.interfaces.executor import OnDone
    from flowrunner._scheduler import RunExecution


class ForeachAttempt(AttemptExecutor):
    """Runs the items of one attempt of a ``foreach`` task (use for one :meth:`submit`)."""

    name: ClassVar[str] = "foreach"

    def __init__(self, run: RunExecution, task_id: int, scope: dict[str, Any], items: list[Any] | tuple[Any, ...],
                 max_parallel: int, keep_going: bool = False):  # fmt: skip
        self.run = run
        self.task_id = task_id
        self.scope = scope
        self.items = items
        self.max_parallel = max_parallel
        self.keep_going = keep_going
        """``on_item_failure: continue``: an item failing for good is noted, the others run on."""
        self.failed: list[tuple[int, AttemptOutcome]] = []
        """Items that failed for good (``continue`` only): position and final outcome."""
        self.results: list[Any] = [None] * len(items)
        self.to_start: deque[tuple[int, int]] = deque((position, 1) for position in range(len(items)))
        self.running: dict[int, tuple[AttemptExecutor, Attempt]] = {}
        self.timers: dict[int, tuple[asyncio.TimerHandle, AttemptOutcome]] = {}
        """Items waiting to be retried: their timer and the failure that will be final if the run stops."""
        self.left = len(items)
        self.ending: AttemptOutcome | None = None
        self.pumping = False
        self.again = False
        self.parent: Attempt | None = None
        self.on_done: OnDone | None = None

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        self.parent = attempt
        self.on_done = on_done
        if not self.items:
            on_done(attempt, AttemptOutcome.succeeded([]))
            return
        self._pump()

    def cancel(self, attempt: Attempt) -> None:
        if self.ending is None:
            self._end(AttemptOutcome.cancelled())

    def unpaused(self) -> None:
        """The run was unpaused: start the items that waited (a paused run starts no item either)."""
        if self.ending is None:
            self._pump()

    # -- items ------------------------------------------------------------------------------

    def _pump(self) -> None:
        """Start items while there is room; re-entrant calls (an inline item ending at once) loop here."""
        if self.pumping:
            self.again = True
            return
        self.pumping = True
        try:
            self.again = True
            while self.again:
                self.again = False
                while (self.ending is None and self.to_start and not self.run.machine.paused
                       and len(self.running) + len(self.timers) < self.max_parallel):  # fmt: skip
                    position, number = self.to_start.popleft()
                    self._start(position, number)
        finally:
            self.pumping = False

    def _start(self, position: int, number: int) -> None:
        run = self.run
        machine = run.machine
        inputs = run.inputs
        task_id = self.task_id
        item = self.items[position]
        name = f"{machine.names[task_id]}[{position}]"
        try:
            config, env, mode = inputs.rendered_inputs(task_id, {**self.scope, "item": item})
        except Exception as error:
            self._item_failed(position, number, AttemptOutcome.failed(error))
            return
        timeout = machine.attempt_timeout(task_id)
        deadline = machine.clock.monotonic() + timeout if timeout is not None else None
        context = inputs.context(task_id, name, number, env, item, deadline, run.writer)
        attempt = inputs.attempt(task_id, name, number, config, mode, context, timeout, position)
        executor = run.executors[mode]
        self.running[position] = (executor, attempt)
        executor.submit(attempt, self._item_done)

    def _item_done(self, attempt: Attempt, outcome: AttemptOutcome) -> None:
        position = attempt.item_index
        assert position is not None
        held = self.running.get(position)
        if held is None or held[1] is not attempt:
            return  # not ours (an executor reporting twice): the first report stands
        del self.running[position]
        if outcome.kind == AttemptOutcome.SUCCEEDED:
            self.results[position] = outcome.value
            self._item_ended()
        elif self.ending is None:
            if outcome.kind == AttemptOutcome.FAILED:
                self._item_failed(position, attempt.number, outcome)
            else:  # an item cancelled from outside cancels the task's attempt
                self._end(AttemptOutcome.cancelled())
        if self.ending is not None:
            self._report_when_idle()
        else:
            self._pump()

    def _item_failed(self, position: int, number: int, outcome: AttemptOutcome, logged: bool = False) -> None:
        run = self.run
        machine = run.machine
        message = outcome.message
        if not logged:
            run.writer.logs.append(_system_line(machine.names[self.task_id], position, number, message))
        decision = machine.retry_decision(self.task_id, number, outcome.failure)
        if type(decision) is float:
            loop = asyncio.get_running_loop()
            self.timers[position] = (loop.call_later(decision, self._retry_due, position, number + 1), outcome)
            return
        if decision is not None:
            message = f"{message} ({decision})"
        if self.keep_going:
            self.failed.append((position, AttemptOutcome(AttemptOutcome.FAILED, None, outcome.failure, message)))
            if self.run.machine.stopping:  # the run stops: no reason to wait for the other items
                self._end(self._failed_items())
            else:
                self._item_ended()
            return
        self._end(
            AttemptOutcome.failed(
                _task_failure(f"item {position} ({_shown(self.items[position])}) failed: {message}", outcome)
            )
        )

    def _item_ended(self) -> None:
        """One more item ended for good; the last one decides the task's outcome."""
        self.left -= 1
        if self.left or self.ending is not None:
            return
        self._end(self._failed_items() if self.failed else AttemptOutcome.succeeded(self.results))

    def _failed_items(self) -> AttemptOutcome:
        """The task's failure under ``continue``: how many items failed, the first few named."""
        self.failed.sort(key=lambda failed: failed[0])
        named = "; ".join(f"item {position} ({_shown(self.items[position])}): {outcome.message}"
                          for position, outcome in self.failed[:_NAMED_FAILURES])  # fmt: skip
        if len(self.failed) > _NAMED_FAILURES:
            named += f"; and {len(self.failed) - _NAMED_FAILURES} more"
        summary = f"{len(self.failed)} of {len(self.items)} items failed: {named}"
        return AttemptOutcome.failed(_task_failure(summary, self.failed[0][1]))

    def _retry_due(self, position: int, number: int) -> None:
        _, failed = self.timers.pop(position)
        if self.run.machine.stopping:  # stopped while this item waited: the rule now says "not retried"
            self._item_failed(position, number - 1, failed, logged=True)
            return
        self.to_start.appendleft((position, number))
        self._pump()

    # -- the end ----------------------------------------------------------------------------

    def _end(self, outcome: AttemptOutcome) -> None:
        """Decide the task's outcome; cancel what still runs and report once all of it ended."""
        self.ending = outcome
        for timer, _ in self.timers.values():
            timer.cancel()
        self.timers.clear()
        for executor, attempt in list(self.running.values()):
            executor.cancel(attempt)
        self._report_when_idle()

    def _report_when_idle(self) -> None:
        if self.running or self.on_done is None or self.parent is None or self.ending is None:
            return
        on_done, self.on_done = self.on_done, None
        on_done(self.parent, self.ending)


_NAMED_FAILURES = 5
"""How many failed items a ``continue`` task's error names (the rest are counted)."""
_SHOWN_ITEM = 60
"""How many characters of an item's ``repr`` an error shows."""


def _shown(item: Any) -> str:
    """The item's ``repr``, cut to :data:`_SHOWN_ITEM` characters so one error stays one line."""
    text = repr(item)
    return text if len(text) <= _SHOWN_ITEM else text[: _SHOWN_ITEM - 3] + "..."


def _task_failure(message: str, item: AttemptOutcome) -> TaskFailure:
    """The task's failure: never retried as a whole; exit code, status and timeout from ``item``."""
    error = item.failure
    return TaskFailure(message, retryable=False,
                       exit_code=error.exit_code if error is not None else None,
                       status=error.status if error is not None else None,
                       timed_out=error.timed_out if error is not None else False)  # fmt: skip


def _system_line(task: str, position: int, number: int, message: str) -> Any:
    from flowbuilder.interfaces import LogLine

    return LogLine(f"{task}[{position}]", number, "system", f"item {position} attempt {number} failed: {message}")
