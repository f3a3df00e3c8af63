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

Each item records its own events (``item_started``, ``item_succeeded``, ``item_failed``,
``item_cancelled``, with the item's position), so ``runs show`` lists the items and a run
that is resumed or retried keeps the output of every item that succeeded — while the item
at that position is still the same value (``item_started`` records a digest of it) — and
runs only the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from flowbuilder.events import EventKind, TaskStatus
from flowbuilder.interfaces import Attempt, AttemptExecutor, AttemptOutcome, TaskFailure

if TYPE_CHECKING:
    from flowbuilder.events import ItemState
    from flowbuilder.interfaces.executor import OnDone
    from flowrunner._scheduler import RunExecution


class ForeachAttempt(AttemptExecutor):
    """Runs the items of one attempt of a ``foreach`` task (use for one :meth:`submit`)."""

    name: ClassVar[str] = "foreach"

    def __init__(self, run: RunExecution, task_id: int, scope: dict[str, Any], items: list[Any] | tuple[Any, ...],
                 max_parallel: int, keep_going: bool = False,
                 recorded: Mapping[int, ItemState] | None = None):  # fmt: skip
        self.run = run
        self.task_id = task_id
        self.task_name = run.machine.names[task_id]
        self.scope = scope
        self.items = items
        self.max_parallel = max_parallel
        self.keep_going = keep_going
        """``on_item_failure: continue``: an item failing for good is noted, the others run on."""
        self.failed: list[tuple[int, AttemptOutcome]] = []
        """Items that failed for good (``continue`` only): position and final outcome."""
        self.results: list[Any] = [None] * len(items)
        self.keys: list[str] = [item_key(item) for item in items]
        """A digest of each item's value, recorded in ``item_started``."""
        kept = self._kept(recorded) if recorded else ()
        self.to_start: deque[tuple[int, int]] = deque(
            (position, 1) for position in range(len(items)) if position not in kept
        )
        self.running: dict[int, tuple[AttemptExecutor, Attempt]] = {}
        self.started: dict[int, float] = {}
        """When each running item's attempt started (wall clock), for its event's ``duration``."""
        self.timers: dict[int, tuple[asyncio.TimerHandle, AttemptOutcome]] = {}
        """Items waiting to be retried: their timer and the failure that will be final if the run stops."""
        self.left = len(items) - len(kept)
        self.ending: AttemptOutcome | None = None
        self.pumping = False
        self.again = False
        self.parent: Attempt | None = None
        self.on_done: OnDone | None = None

    def _kept(self, recorded: Mapping[int, ItemState]) -> set[int]:
        """Take the outputs of items a resumed or retried run recorded as succeeded, for the same value."""
        from flowrunner._outputs import is_table_reference, restored_output

        store = self.run.request.store
        kept = set()
        for position, item in recorded.items():
            if (item.status is TaskStatus.SUCCEEDED and 0 <= position < len(self.items)
                    and item.key == self.keys[position]):  # fmt: skip
                output = item.output
                if store is not None and is_table_reference(output):
                    output = restored_output(store, f"{self.task_name}[{position}]", output)
                self.results[position] = output
                kept.add(position)
        return kept

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        self.parent = attempt
        self.on_done = on_done
        if not self.left:
            on_done(attempt, AttemptOutcome.succeeded(self.results))
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
        self.started[position] = time.time()
        run.writer.emit(EventKind.ITEM_STARTED, self.task_name, number, {"item": position, "key": self.keys[position]})
        executor.submit(attempt, self._item_done)

    def _item_done(self, attempt: Attempt, outcome: AttemptOutcome) -> None:
        position = attempt.item_index
        assert position is not None
        held = self.running.get(position)
        if held is None or held[1] is not attempt:
            return  # not ours (an executor reporting twice): the first report stands
        del self.running[position]
        started = self.started.pop(position, None)
        if outcome.kind == AttemptOutcome.SUCCEEDED:
            value = self.results[position] = outcome.value
            run = self.run
            name = f"{self.task_name}[{position}]"
            recorded = value if type(value) in _PLAIN else run.machine.storable_output(name, value)
            duration = time.time() - started if started is not None else 0.0
            run.writer.emit(EventKind.ITEM_SUCCEEDED, self.task_name, attempt.number,
                            {"item": position, "output": recorded, "duration": duration})  # fmt: skip
            self._item_ended()
        elif outcome.kind != AttemptOutcome.FAILED:
            self.run.writer.emit(EventKind.ITEM_CANCELLED, self.task_name, attempt.number, {"item": position})
            if self.ending is None:  # an item cancelled from outside cancels the task's attempt
                self._end(AttemptOutcome.cancelled())
        elif self.ending is None:
            self._item_failed(position, attempt.number, outcome)
        else:  # failed while the task was ending (cancelled by fail_fast, say): recorded, nothing more
            self._record_failure(position, attempt.number, outcome.message, True)
        if self.ending is not None:
            self._report_when_idle()
        else:
            self._pump()
        self.run._wake()  # the run's loop flushes the item's events now, not when the task ends

    def _item_failed(self, position: int, number: int, outcome: AttemptOutcome, logged: bool = False) -> None:
        run = self.run
        machine = run.machine
        message = outcome.message
        if not logged:
            run.writer.log(_system_line(machine.names[self.task_id], position, number, message))
        decision = machine.retry_decision(self.task_id, number, outcome.failure)
        if type(decision) is float:
            self._record_failure(position, number, message, False)
            loop = asyncio.get_running_loop()
            self.timers[position] = (loop.call_later(decision, self._retry_due, position, number + 1), outcome)
            return
        if decision is not None:
            message = f"{message} ({decision})"
        self._record_failure(position, number, message, True)
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

    def _record_failure(self, position: int, number: int, message: str, final: bool) -> None:
        """The item's ``item_failed`` event; ``final``: it is not retried."""
        self.run.writer.emit(EventKind.ITEM_FAILED, self.task_name, number,
                             {"item": position, "error": message, "final": final})  # fmt: skip

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
        self.run._wake()

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


_PLAIN = (str, int, float, bool, type(None))
"""Outputs recorded as they are (no look at tables)."""


def item_key(item: Any) -> str:
    """A digest of an item's value (its canonical JSON), so a resumed run knows the item is the same.

    A digest, not the value: items can be large, and the event log should not hold a second
    copy of every item.
    """
    try:
        text = json.dumps(item, sort_keys=True, default=repr, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted; a value that holds itself
        text = repr(item)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


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
