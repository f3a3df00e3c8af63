"""The rules of one run, as a synchronous state machine: no event loop, no futures, no timers.

State lives in flat lists indexed by the plan's dense task ids. A task becomes ready when
its count of unfinished dependencies reaches zero; a failed or skipped task marks its whole
downstream skipped at once (with the reason), so a countdown that reaches zero always means
"every dependency succeeded" -- for a task with the default ``run_if: all_succeeded``.

A task with another ``run_if`` (a trigger rule) counts down on every end of a dependency
(succeeded, failed, skipped, cancelled) and is never skipped by the skip propagation; when its
count reaches zero :meth:`RunStateMachine.dependencies_ended` applies its rule. A run that stops
(``on_failure: stop``) or is cancelled settles at once what will never start and keeps
dispatching the run_if tasks its rules still let start (cleanup), and nothing else.

The machine decides; its driver acts. :meth:`RunStateMachine.pump` hands ready tasks to the
driver's ``start(task_id, attempt)`` while the run's concurrency allows; the driver reports
each attempt's end (:meth:`~RunStateMachine.succeeded`, :meth:`~RunStateMachine.attempt_failed`,
:meth:`~RunStateMachine.cancelled`). A failure the retry policy retries comes back as a
decision, "retry task T at monotonic time X": the driver sets the timer and calls
:meth:`~RunStateMachine.retry_due` when it fires. Time comes from an injectable clock, so a
test drives every rule (countdown, skips, retries, deadlines, stop, cancel, pause) by hand.
Events go to the run's :class:`~flowrunner._event_writer.EventWriter`.

A started task may turn into a *wait* (an approval, a timer: :meth:`RunStateMachine.wait`):
it gives back its slot of the run's ``concurrency`` and of its pool at once, so any number of
waiting tasks never block other work; the driver ends the wait with
:meth:`~RunStateMachine.wait_succeeded` or :meth:`~RunStateMachine.wait_failed`, and a stop
or cancel of the run cancels what still waits.

A task with a ``lock:`` passes a *lock gate* as it leaves the ready queue
(:attr:`RunStateMachine.lock_gate`, set by the driver, :mod:`flowrunner._locks`): when the
lock is taken elsewhere the task is not started; it keeps no slot, is parked in
:attr:`~RunStateMachine.lock_waiting` (the run is not done) and goes back into the queue when
the driver's poll timer calls :meth:`~RunStateMachine.lock_retry_due`. Every end of an
attempt calls :attr:`~RunStateMachine.lock_release`. Runs without locks have neither (None):
one comparison per start.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Collection, Mapping, Protocol, Sequence

from flowbuilder.events import PLAIN_TEXT_LIMIT, EventKind, PlainRunEvent, RunEvent, RunStatus, TaskStatus
from flowrunner._retry import matches_retry_on, retry_delay
from flowrunner.scheduling.task_columns import mapped, task_columns
from flowrunner.scheduling.timing import (
    CONCURRENCY,
    DISPATCH,
    NOTHING_WAITS,
    PAUSED,
    POOL,
    PRIORITY,
    STOPPING,
    STORE_BACKLOG,
    TYPE_LIMIT,
    RunTiming,
)

if TYPE_CHECKING:
    from flowbuilder.interfaces import TaskFailure
    from flowbuilder.model import RetryPolicy
    from flowbuilder.plan import ExecutionPlan
    from flowrunner.scheduling.ready_queue import ReadyQueue

PENDING, READY, RUNNING, RETRY_WAIT, SUCCEEDED, FAILED, SKIPPED, CANCELLED, WAITING = range(9)
"""A task's state in :attr:`RunStateMachine.state` (small ints: the lists stay flat)."""
STATUS = (TaskStatus.PENDING, TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.RETRYING,
          TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED,
          TaskStatus.WAITING)  # fmt: skip
"""The :class:`TaskStatus` each state reads as."""
ALL_SUCCEEDED, ALL_DONE, ANY_FAILED, ALWAYS = range(4)
"""A task's ``run_if`` in :attr:`RunStateMachine.rules` (0, the default, is the fast path)."""
RULES = {"all_succeeded": ALL_SUCCEEDED, "all_done": ALL_DONE, "any_failed": ANY_FAILED, "always": ALWAYS}
PLAIN_TYPES = frozenset({type(None), str, int, float, bool, dict, list})
"""Outputs recorded as they are, with no look at tables or references."""
SCALAR_TYPES = frozenset({type(None), str, int, float, bool})
"""Outputs that hold no other object: their ``task_succeeded`` is a :class:`PlainRunEvent`
(unless a NaN or infinite float or a text over ``PLAIN_TEXT_LIMIT``, which its contract to
the stores excludes), which the cycle collector does not track (a dict or list may hold
anything, even the task's own context, which leads back to the run's events: a cycle only
the collector can free)."""

FLUSH_EVERY = 4096
"""Events buffered before :meth:`RunStateMachine.pump` flushes inside one long dispatch step (bounds memory).

Flushes happen only from the dispatch loop and the driver's main loop, never from completion
callbacks, so a store that fails surfaces in ``run_async`` (which then stops the run's
attempts): the store's thread records the error and wakes the run, whose next flush raises it."""

_STARTED = EventKind.TASK_STARTED
_SUCCEEDED = EventKind.TASK_SUCCEEDED


class EventLog(Protocol):
    """What the machine needs of the run's event writer (:class:`flowrunner._event_writer.EventWriter`).

    ``pending`` and ``seq`` are written directly on the hottest path (``task_started``,
    ``task_succeeded``); ``emit`` numbers and buffers any other event.
    """

    run_id: str
    seq: int
    pending: list[RunEvent]

    def emit(self, kind: EventKind, task: str | None = None, attempt: int = 0,
             data: Mapping[str, Any] = ...) -> None: ...  # fmt: skip

    def flush(self) -> None: ...

    @property
    def backlogged(self) -> bool: ...


class Clock(Protocol):
    """What the machine reads the time from: the ``time`` module, or a test's hand clock."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...


def _always(task_id: int) -> bool:
    return True


def _no_named_outputs(task_id: int, output: Any) -> dict[str, Any]:
    return {}


def _accept(output: Any) -> str | None:
    return None


def _as_is(task: str, output: Any) -> Any:
    return output


def _nothing() -> None:
    pass


def _reraise(task_id: int, attempt: int, error: BaseException) -> None:
    raise error


class RunStateMachine:
    """The scheduling rules of one run of ``plan``.

    Args:
        plan: the compiled plan.
        writer: where events go (the machine emits every task and run event but
            ``run_created``/``run_started``, which belong to whoever opens the run).
        queue: the ready queue (priorities, pools).
        limit: attempts running at once.
        clock: ``monotonic()`` for deadlines and retry times, ``time()`` for recorded instants.

    Hooks (attributes; the defaults suit a workflow without expressions):
        evaluate_when: ``(task_id) -> bool``, the task's ``when``; raising fails the task.
        evaluate_outputs: ``(task_id, output) -> dict``, the task's named ``outputs``.
        check_output: ``(output) -> refusal or None``: a refusal fails the task (size limits);
            not asked about None (an attempt that returned nothing).
        storable_output: ``(task name, output) -> recorded form`` (tables become references).
        wake: called when the driver should run :meth:`pump` again (unpause, stop, cancel).
    """

    __slots__ = ("any_failed", "attempts", "cancel_requested", "check_output", "clock", "deadline_at", "dispatching", "errors", "evaluate_outputs", "evaluate_when", "finalizing", "finished_at", "has_run_if", "has_timeout", "inline_calls", "inline_raised", "inline_returned", "limit", "lock_gate", "lock_release", "lock_waiting", "named_output_specs", "named_outputs", "names", "outputs", "paused", "plan", "pooled", "queue", "reasons", "retry_waiting", "rules", "run_id", "running", "slow_start", "started_at", "started_monotonic", "state", "stop_on_failure", "stop_reason", "stopping", "storable_output", "successors", "summarize_timing", "tasks", "timing", "type_data", "upstream_failed", "waiting", "waits", "wake", "writer")  # fmt: skip

    def __init__(self, plan: ExecutionPlan, writer: EventLog, queue: ReadyQueue, limit: int,
                 clock: Clock | None = None):  # fmt: skip
        workflow = plan.workflow
        count = len(plan)
        self.plan = plan
        self.tasks = workflow.tasks
        self.names = plan.names
        self.successors = plan.successors
        self.writer = writer
        self.run_id = writer.run_id
        self.queue = queue
        self.pooled = queue.pool_of is not None
        self.limit = limit
        self.clock: Clock = clock if clock is not None else time
        self.waiting = list(plan.indegree)
        self.state = [PENDING] * count
        self.attempts = [0] * count
        self.outputs: list[Any] = [None] * count
        self.named_outputs: dict[int, dict[str, Any]] = {}
        self.errors: dict[int, str] = {}
        self.reasons: dict[int, str] = {}
        self.started_at: list[float | None] = [None] * count
        self.finished_at: list[float | None] = [None] * count
        self.deadline_at: dict[int, float] = {}
        """Task id -> the monotonic instant its ``deadline`` (over all attempts) ends."""
        self.retry_waiting: dict[int, float] = {}
        """Task id -> the monotonic instant its next attempt is due (the driver's timers)."""
        self.waits: dict[int, int] = {}
        """Task id -> attempt, for tasks that wait (:meth:`wait`): started, holding no slot."""
        self.lock_gate: Callable[[int], bool] | None = None
        """``(task_id) -> may it start now`` for runs with ``lock:`` tasks: False parks the task
        (:meth:`lock_wait`, called by the gate). None: no task of the run takes a lock."""
        self.lock_release: Callable[[int], None] | None = None
        """Called with the task id when an attempt ends, for runs with ``lock:`` tasks."""
        self.lock_waiting: set[int] = set()
        """Tasks the gate held back (their lock is taken elsewhere): ready, queued nowhere, no slot."""
        self.running = 0
        self.started_monotonic = 0.0
        """When :meth:`pump` started the latest attempt (monotonic; kept only when tasks have time limits)."""
        self.stopping = False
        self.stop_reason: str | None = None
        self.cancel_requested = False
        self.paused = False
        self.any_failed = False
        # Every run pays what follows per task: each is one pass at C speed over the fields read
        # once per workflow (task_columns), not a Python loop over the task models.
        columns = task_columns(workflow)
        self.named_output_specs = columns.outputs
        """Each task's named ``outputs`` (empty: none), as the inline path of :meth:`pump` reads them."""
        self.rules = mapped(RULES.__getitem__, columns.run_if)
        """Each task's ``run_if`` (:data:`ALL_SUCCEEDED` ... :data:`ALWAYS`)."""
        self.has_run_if = any(self.rules)
        whens = columns.when
        if not self.has_run_if and whens.count(None) == count:  # the usual case: one pass over the tasks fewer
            self.slow_start = [False] * count
        else:
            self.slow_start = [
                when is not None or rule != ALL_SUCCEEDED for when, rule in zip(whens, self.rules, strict=True)
            ]
        """Tasks whose start needs a look (a ``when``, a ``run_if``); the others go straight to the queue."""
        self.upstream_failed: set[int] = set()
        """Tasks skipped because something above them failed (``any_failed`` counts them as failed)."""
        self.finalizing = False
        """The run is stopping but still dispatches the run_if tasks its rules let start."""
        self.stop_on_failure = True
        """Whether ``on_failure: stop`` stops the run; a state machine's driver turns it off, since
        there a failed action is an outcome its transitions handle, not the end of the run."""
        defaults = workflow.defaults
        self.has_timeout = (
            defaults.timeout is not None
            or columns.timeout.count(None) != count
            or columns.deadline.count(None) != count
        )
        # task_started carries the task's type; one shared (never mutated) mapping per type.
        type_names = columns.type
        shared = {name: {"type": name} for name in set(type_names)}
        self.type_data: list[Mapping[str, Any]] = mapped(shared.__getitem__, type_names)
        self.evaluate_when: Callable[[int], bool] = _always
        self.evaluate_outputs: Callable[[int, Any], dict[str, Any]] = _no_named_outputs
        self.check_output: Callable[[Any], str | None] = _accept
        self.storable_output: Callable[[str, Any], Any] = _as_is
        self.wake: Callable[[], None] = _nothing
        self.timing = RunTiming(self.clock.time())
        """Where the run's time goes (:mod:`flowrunner.scheduling.timing`); recorded in ``run_finished``."""
        self.dispatching = False
        """Inside :meth:`pump` (an attempt ending now ran inline, on the scheduler's thread)."""
        self.summarize_timing: Callable[[float], Mapping[str, Any]] | None = None
        """``(finished instant) -> run_finished's timing``; the driver adds its store's and sinks' time
        (None: :meth:`_own_timing`, looked up when the run finishes rather than kept here, where
        the machine's own bound method would make it refer to itself: see :meth:`detach_driver`)."""
        self.inline_calls: Sequence[Callable[[], Any] | None] | None = None
        """Per task, a zero-argument call the machine may make itself inside :meth:`pump` instead of
        ``start(task_id, attempt)`` (None: ``start`` it); set by a driver whose attempts' successes
        all go to :meth:`succeeded`. An outcome the machine does not settle in the loop goes back to
        the driver: :attr:`inline_raised` (the call raised) or :attr:`inline_returned` (anything
        but None or a plain value, such as the coroutine of an ``async`` task's call, which the
        driver awaits; or a task with named outputs, or a stopping run)."""
        self.inline_raised: Callable[[int, int, BaseException], None] = _reraise
        self.inline_returned: Callable[[int, int, Any], None] | None = None
        """None: :meth:`succeeded` (looked up per step, not kept: see :attr:`summarize_timing`)."""

    # -- readiness --------------------------------------------------------------------------

    def open(self, roots: Sequence[int]) -> None:
        """Make ``roots`` (tasks with nothing left to wait for) ready, checking their ``run_if`` and ``when``."""
        state = self.state
        timing = self.timing
        timing.base = timing.last = self.clock.time()  # the run's clock starts here
        for task_id in roots:
            if state[task_id] == PENDING:
                self.dependencies_ended(task_id)
        self._classify()

    def dependencies_ended(self, task_id: int) -> None:
        """Every dependency of ``task_id`` ended (or, for ``all_succeeded``, succeeded): apply its ``run_if``."""
        rule = self.rules[task_id]
        if rule != ALL_SUCCEEDED:
            if rule == ANY_FAILED and not any(
                self.state[p] == FAILED or p in self.upstream_failed for p in self.plan.predecessors[task_id]
            ):
                self._skip(task_id, "run_if any_failed: no dependency failed")
                return
        elif self.stopping:
            return  # settled by stop(); never started
        self.make_ready(task_id)

    def make_ready(self, task_id: int) -> None:
        """All dependencies succeeded: check ``when``, then enqueue."""
        task = self.tasks[task_id]
        if task.when is not None:
            try:
                passed = self.evaluate_when(task_id)
            except Exception as error:
                self._fail_final(task_id, 0, f"when condition failed: {error}", {})
                return
            if not passed:
                self._skip(task_id, f"when condition is false: {task.when}")
                return
        self.state[task_id] = READY
        self.timing.ready_sum += self.clock.time() - self.timing.base
        self.queue.push(task_id, self.attempts[task_id])

    def has_ready(self) -> bool:
        return bool(self.queue)

    @property
    def done(self) -> bool:
        """Nothing runs, no retry is due, and nothing more will start."""
        return (
            not self.running
            and not self.retry_waiting
            and not self.waits
            and not self.lock_waiting
            and (not self.queue or (self.stopping and not self.finalizing))
        )

    def pump(self, start: Callable[[int, int], None]) -> None:
        """Start ready tasks while slots are free: mark each running and call ``start(task_id, attempt)``.

        Stops when the run's limit is reached, the queue (or every pool with room) is empty,
        the run is stopping or paused, or the event writer is backlogged (the driver waits
        for the store, then pumps again). ``start`` must report the attempt's end through
        :meth:`succeeded`, :meth:`attempt_failed` or :meth:`cancelled`, now or later.

        Two clock readings per call (not per task) feed the run's timing: the step's length,
        and what the tasks still queued afterwards wait for (:meth:`_classify`).
        """
        timing = self.timing
        wall = self.clock.time
        entered = wall()
        timing.tally(entered)
        self.dispatching = True
        try:
            self._dispatch(start, timing)
        finally:
            self.dispatching = False
            left = wall()
            timing.pumping += left - entered
            # The step's length goes to what waited as it began: those it could start were
            # being dispatched, the others stayed held (tasks made ready inside it: dispatch).
            timing.tally(left)
            self._classify()

    def _dispatch(self, start: Callable[[int, int], None], timing: RunTiming) -> None:
        """:meth:`pump`'s loop; adds the start instants to ``timing.started_sum`` (queue wait), once per step.

        A task with an inline call (:attr:`inline_calls`) is called right here, and when it
        returns None or a plain value its success is recorded here too: what :meth:`succeeded`
        does for it, with the run's state in locals (about a microsecond less per task than a
        call of ``start`` and of :meth:`succeeded`, each reading the run's state again).
        """
        writer = self.writer
        pending = writer.pending
        queue = self.queue
        pop = queue.pop
        heap = queue.heap  # never replaced (emptied in place)
        state = self.state
        attempts = self.attempts
        started_at = self.started_at
        names = self.names
        type_data = self.type_data
        run_id = self.run_id
        wall = self.clock.time
        flush_every = FLUSH_EVERY
        has_timeout = self.has_timeout
        gate = self.lock_gate
        base = timing.base
        started_sum = 0.0
        count = 0
        # The inline path settles a success itself only where succeeded() would do no more:
        # no pools to release, no locks, an attempt's end inside this step (dispatching).
        calls = self.inline_calls if not self.pooled and self.lock_release is None else None
        raised = self.inline_raised
        returned = self.inline_returned or self.succeeded
        named_output_specs = self.named_output_specs
        check_output = self.check_output
        outputs = self.outputs
        finished_at = self.finished_at
        successors = self.successors
        waiting = self.waiting
        became_ready = self._became_ready
        plain_types = PLAIN_TYPES
        scalar_types = SCALAR_TYPES
        text_limit = PLAIN_TEXT_LIMIT
        bodies = 0.0
        try:
            while self.running < self.limit and (not self.stopping or self.finalizing) and not self.paused:
                if len(pending) >= flush_every:
                    writer.flush()
                    pending = writer.pending
                    if writer.backlogged:
                        return
                batch = queue.batch
                task_id: int | None
                if batch and not heap:  # what pop() does when no heap entry competes, without the call
                    task_id = queue.batch_ids[batch.pop()]
                else:
                    task_id = pop()
                if task_id is None:
                    return
                if gate is not None and not gate(task_id):
                    continue  # parked until its lock may be free (lock_wait)
                attempt = attempts[task_id] = attempts[task_id] + 1
                now = wall()
                started_sum += now - base
                count += 1
                first_started = started_at[task_id]
                if first_started is None:  # its first attempt here (a resumed task's may be 2 or more)
                    started_at[task_id] = first_started = now
                state[task_id] = RUNNING
                if has_timeout:
                    self.started_monotonic = self._start_deadline_clock(task_id)
                seq = writer.seq = writer.seq + 1  # emit() inlined: this is the hottest line of the scheduler
                name = names[task_id]
                # Untracked: its data is the runner's read-only {"type": ...} of the task's type.
                pending.append(PlainRunEvent(run_id, seq, _STARTED, name, attempt, type_data[task_id], now))
                call = calls[task_id] if calls is not None else None
                if call is None:
                    self.running += 1
                    start(task_id, attempt)
                    continue
                # The attempt holds a slot from here on, but the count is raised only when it
                # leaves this step running, failed or unsettled (raised, returned): an attempt
                # settled right here would lower it again at once, and nothing reads it meanwhile.
                try:
                    output = call()
                except BaseException as error:  # a plugin's own BaseException too: the driver says what it means
                    self.running += 1
                    raised(task_id, attempt, error)
                    continue
                if (
                    (output is not None and type(output) not in plain_types)
                    or self.stopping
                    or named_output_specs[task_id]
                ):
                    self.running += 1
                    returned(task_id, attempt, output)  # an awaitable, a table, named outputs: the long way
                    continue
                # succeeded() for a plain value and no named outputs, inside this step.
                if output is not None:
                    refusal = check_output(output)
                    if refusal is not None:
                        self._fail_final(task_id, attempt, refusal, {})
                        continue
                finished_at[task_id] = finished = wall()
                duration = finished - first_started
                outputs[task_id] = output
                state[task_id] = SUCCEEDED
                bodies += duration
                seq = writer.seq = writer.seq + 1
                output_type = type(output)
                plain = output_type in scalar_types and (  # PlainRunEvent's contract: stores write it unchecked
                    (output_type is not float or output - output == 0.0)
                    and (output_type is not str or len(output) <= text_limit)
                )
                pending.append((PlainRunEvent if plain else RunEvent)(
                    run_id, seq, _SUCCEEDED, name, attempt, {"output": output, "duration": duration}, finished))  # fmt: skip
                # _release() written out for the countdown (a call per task less); what becomes
                # ready goes through the same _became_ready().
                ready = None
                for successor in successors[task_id]:
                    left = waiting[successor] = waiting[successor] - 1
                    if left == 0:
                        if ready is None:
                            ready = [successor]
                        else:
                            ready.append(successor)
                if ready is not None:
                    became_ready(ready, finished)
        finally:
            timing.started_sum += started_sum
            timing.attempts += count
            timing.inline_bodies += bodies

    # -- timing -----------------------------------------------------------------------------

    def _start_deadline_clock(self, task_id: int) -> float:
        """The task's overall deadline runs from its first attempt in this process; returns now."""
        now = self.clock.monotonic()
        deadline = self.tasks[task_id].deadline
        if deadline is not None and task_id not in self.deadline_at:
            self.deadline_at[task_id] = now + deadline
        return now

    def attempt_timeout(self, task_id: int, now: float | None = None) -> float | None:
        """Seconds an attempt starting at ``now`` may take: the task's timeout, cut short by its deadline.

        ``now`` defaults to the clock's; a driver passes :attr:`started_monotonic` (the instant
        :meth:`pump` started the attempt) so a deadline's last attempt gets exactly what is left.
        """
        if not self.has_timeout:
            return None
        task = self.tasks[task_id]
        timeout = task.timeout if task.timeout is not None else self.plan.workflow.defaults.timeout
        deadline = self.deadline_at.get(task_id)
        if deadline is not None:
            if now is None:
                now = self.clock.monotonic()
            left = max(0.0, deadline - now)
            timeout = left if timeout is None else min(timeout, left)
        return timeout

    def retry_policy(self, task_id: int) -> RetryPolicy | None:
        task = self.tasks[task_id]
        return task.retry if task.retry is not None else self.plan.workflow.defaults.retry

    def retry_decision(self, task_id: int, attempt: int, failure: TaskFailure | None) -> float | str | None:
        """Whether failed ``attempt`` of ``task_id`` runs again: the one retry rule.

        Returns the delay in seconds before the next attempt; or, when the policy would
        retry but the run says no, why not (``"not retried: <stop reason>"``, ``"deadline
        reached, not retried"``); or None when the policy does not retry this failure
        (attempts used up, ``retry_on`` or ``retryable=False``). ``foreach`` items use it too.
        """
        policy = self.retry_policy(task_id)
        if policy is None or attempt >= policy.attempts or not matches_retry_on(policy.retry_on, failure):
            return None
        if self.stopping:
            # Say why the policy did not apply, or a stopped run's failure reads as a bug.
            return f"not retried: {self.stop_reason}"
        delay = retry_delay(policy, attempt)
        deadline = self.deadline_at.get(task_id)
        if deadline is not None and self.clock.monotonic() + delay >= deadline:
            return "deadline reached, not retried"
        return delay

    # -- outcomes ---------------------------------------------------------------------------

    def succeeded(self, task_id: int, attempt: int, output: Any, details: Mapping[str, Any] | None = None, *,
                  served: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        """The attempt returned ``output``: record it and count its dependents down.

        ``details`` are added to the ``task_succeeded`` event (a wait's ``signal_request``).
        ``served`` is set when the result cache served the attempt instead of running it
        (:mod:`flowrunner.scheduling.result_cache`): ``output`` (the recorded form, a table
        as the source run's reference: nothing is written again), ``outputs`` (named outputs
        as recorded) and ``cached`` (``key`` and ``run``), which ``task_succeeded`` records.
        """
        self.running -= 1
        if self.pooled:
            self.queue.release(task_id)
        if self.lock_release is not None:
            self.lock_release(task_id)
        if output is not None:  # nothing returned, nothing to measure
            refusal = self.check_output(output)
            if refusal is not None:
                self._fail_final(task_id, attempt, refusal, {})
                return
        name = self.names[task_id]
        data: dict[str, Any]
        if served is None and not self.tasks[task_id].outputs:  # the usual record: built in one go
            recorded = output if type(output) in PLAIN_TYPES else self.storable_output(name, output)
            self.finished_at[task_id] = finished = self.clock.time()
            duration = finished - (self.started_at[task_id] or finished)
            data = {"output": recorded, "duration": duration}
        else:
            if served is not None:
                data = self._served_data(task_id, served)
            else:
                try:
                    named = self.named_outputs[task_id] = self.evaluate_outputs(task_id, output)
                except Exception as error:
                    self._fail_final(task_id, attempt, f"outputs: {error}", {})
                    return
                data = {"output": self.storable_output(name, output), "outputs": named}
            self.finished_at[task_id] = finished = self.clock.time()
            duration = data["duration"] = finished - (self.started_at[task_id] or finished)
        self.outputs[task_id] = output
        self.state[task_id] = SUCCEEDED
        timing = self.timing
        if self.dispatching:
            timing.inline_bodies += duration
        else:
            timing.bodies += duration
        if details:
            data.update(details)
        writer = self.writer
        seq = writer.seq = writer.seq + 1
        writer.pending.append(RunEvent(self.run_id, seq, _SUCCEEDED, name, attempt, data, finished))
        waiting = self.waiting
        successors = self.successors[task_id]
        state = self.state
        if self.stopping:
            for successor in successors:
                left = waiting[successor] = waiting[successor] - 1
                if left == 0 and state[successor] == PENDING and self.finalizing:
                    self.dependencies_ended(successor)
            if not self.dispatching:
                timing.tally(finished)
                self._classify()
            return
        self._release(successors, finished)
        if not self.dispatching:  # an attempt ended between steps: its slot is free from now on
            timing.tally(finished)
            self._classify()

    def _release(self, successors: Sequence[int], finished: float) -> None:
        """The in-degree countdown after a success at ``finished``: the successors whose last
        dependency this was go to :meth:`_became_ready`. Shared by :meth:`succeeded`; the inline
        path of :meth:`pump` writes the same countdown out (a call per task less)."""
        waiting = self.waiting
        ready: list[int] | None = None
        for successor in successors:
            left = waiting[successor] = waiting[successor] - 1
            if left == 0:
                if ready is None:
                    ready = [successor]
                else:
                    ready.append(successor)
        if ready is not None:
            self._became_ready(ready, finished)

    def _became_ready(self, counted_down: list[int], finished: float) -> None:
        """``counted_down`` have no dependency left (the last ended at ``finished``): each still
        pending becomes ready (or goes through :meth:`dependencies_ended` when it has a
        ``when``/``run_if`` to decide), and the ready ones are queued in one push.
        The one place for this rule, after :meth:`succeeded`'s countdown and :meth:`pump`'s."""
        state = self.state
        slow_start = self.slow_start
        ready: list[int] = []
        for successor in counted_down:
            if state[successor] == PENDING:
                if slow_start[successor]:
                    self.dependencies_ended(successor)
                else:
                    state[successor] = READY
                    ready.append(successor)
        if ready:
            timing = self.timing
            timing.ready_sum += (finished - timing.base) * len(ready)
            self.queue.push_many(ready, self.attempts)

    def _classify(self) -> None:
        """Record what the queued tasks wait for from now on (the causes of :mod:`.timing`).

        Called after a scheduling step and after an attempt ends between steps: the state
        that decides (pause, store backlog, the run's slots, full pools) changes only then.
        """
        queue = self.queue
        timing = self.timing
        if not self.pooled and queue.by_priority is None and not (self.stopping or self.paused):
            # The common case (no pools, one priority, running), once per attempt ending between steps.
            waiting = queue.unpooled()
            if not waiting:
                timing.waiting = NOTHING_WAITS
                return
            if not self.writer.backlogged:
                free = self.limit - self.running
                if free >= waiting:
                    timing.waiting = ((DISPATCH, waiting),)
                elif free <= 0:
                    timing.waiting = ((CONCURRENCY, waiting),)
                else:
                    timing.waiting = ((DISPATCH, free), (CONCURRENCY, waiting - free))
                return
        if not queue:
            timing.waiting = NOTHING_WAITS
            return
        if self.stopping and not self.finalizing:
            held = STOPPING
        elif self.paused:
            held = PAUSED
        elif self.writer.backlogged:
            held = STORE_BACKLOG
        else:
            held = DISPATCH  # nothing holds the run back: slots and pools decide below
        if held != DISPATCH:
            timing.waiting = ((held, len(queue)),)
            return
        pairs: list[tuple[int, int]] = []
        if not self.pooled:
            candidates = queue.unpooled()
        else:  # a task beyond its pool's free room waits for the pool, whatever the run's slots
            candidates = 0
            used = queue.pool_used
            limits = queue.pool_limits
            for pool, heap in queue.heaps.items():
                if not heap:
                    continue
                if pool is None:
                    candidates += len(heap)
                    continue
                room = min(len(heap), max(0, limits[pool] - used[pool]))
                candidates += room
                if len(heap) > room:
                    pairs.append((TYPE_LIMIT if pool.startswith("type:") else POOL, len(heap) - room))
        if candidates:
            # As many as the run has free slots could start now (their wait is dispatch);
            # the others wait for the run's concurrency, or behind a higher priority.
            startable = min(candidates, max(0, self.limit - self.running))
            if startable:
                pairs.append((DISPATCH, startable))
            blocked = candidates - startable
            behind = min(blocked, queue.behind_higher_priority()) if blocked and queue.by_priority is not None else 0
            if behind:
                pairs.append((PRIORITY, behind))
            if blocked > behind:
                pairs.append((CONCURRENCY, blocked - behind))
        timing.waiting = tuple(pairs)

    def _served_data(self, task_id: int, served: Mapping[str, Any]) -> dict[str, Any]:
        """The ``task_succeeded`` data of a result served from the cache (named outputs as recorded)."""
        data: dict[str, Any] = {"output": served["output"], "cached": dict(served["cached"])}
        named = served.get("outputs")
        if named or self.tasks[task_id].outputs:
            named = self.named_outputs[task_id] = dict(named or {})
            data["outputs"] = named
        return data

    def attempt_failed(self, task_id: int, attempt: int, failure: TaskFailure | None, message: str) -> float | None:
        """The attempt failed: returns the monotonic instant to retry at (set a timer), or None (final)."""
        self.running -= 1
        if self.pooled:
            self.queue.release(task_id)
        if self.lock_release is not None:
            self.lock_release(task_id)
        return self._failure(task_id, attempt, failure, message)

    def _failure(self, task_id: int, attempt: int, failure: TaskFailure | None, message: str) -> float | None:
        now = self.clock.time()
        duration = now - (self.started_at[task_id] or now)
        data: dict[str, Any] = {"error": message, "duration": duration}
        timing = self.timing
        if self.dispatching:
            timing.inline_bodies += duration
        else:
            timing.bodies += duration
        if failure is not None:
            if failure.exit_code is not None:
                data["exit_code"] = failure.exit_code
            if failure.status is not None:
                data["status"] = failure.status
            if failure.timed_out:
                data["timed_out"] = True
        decision = self.retry_decision(task_id, attempt, failure)
        if type(decision) is float:
            # A retried attempt emits only task_retrying (with the error); task_failed is final.
            data["delay"] = decision
            self.writer.emit(EventKind.TASK_RETRYING, self.names[task_id], attempt, data)
            self.state[task_id] = RETRY_WAIT
            due = self.retry_waiting[task_id] = self.clock.monotonic() + decision
            return due
        if decision is not None:
            message = data["error"] = f"{message} ({decision})"
        self._fail_final(task_id, attempt, message, data)
        return None

    def retry_due(self, task_id: int) -> None:
        """The retry timer of ``task_id`` fired: enqueue its next attempt (unless the run stopped since)."""
        if self.retry_waiting.pop(task_id, None) is None:
            return  # stopped or cancelled meanwhile: already recorded
        self.state[task_id] = READY
        self.timing.ready_sum += self.clock.time() - self.timing.base
        self.queue.push(task_id, self.attempts[task_id])

    def cancelled(self, task_id: int, attempt: int) -> None:
        """The attempt was cancelled before it finished."""
        self.running -= 1
        if self.pooled:
            self.queue.release(task_id)
        if self.lock_release is not None:
            self.lock_release(task_id)
        self._cancel_task(task_id, attempt)

    def _fail_final(self, task_id: int, attempt: int, message: str, data: dict[str, Any]) -> None:
        name = self.names[task_id]
        data = dict(data)
        data.setdefault("error", message)
        data["final"] = True
        self.state[task_id] = FAILED
        self.errors[task_id] = data["error"]
        self.finished_at[task_id] = self.clock.time()
        self.any_failed = True
        self.writer.emit(EventKind.TASK_FAILED, name, attempt, data)
        self._skip_downstream(task_id, f"dependency {name!r} failed", failure=True)
        task = self.tasks[task_id]
        workflow = self.plan.workflow
        policy = task.on_failure or workflow.defaults.on_failure or workflow.on_failure
        if policy == "stop" and self.stop_on_failure and not self.stopping:
            self.stop(f"run stopped: task {name!r} failed")

    def _skip(self, task_id: int, reason: str) -> None:
        self.state[task_id] = SKIPPED
        self.reasons[task_id] = reason
        self.finished_at[task_id] = self.clock.time()
        self.writer.emit(EventKind.TASK_SKIPPED, self.names[task_id], 0, {"reason": reason})
        self._skip_downstream(task_id, f"dependency {self.names[task_id]!r} was skipped")

    def _skip_downstream(self, task_id: int, reason: str, failure: bool = False) -> None:
        """Skip every not-yet-started task below ``task_id`` (a countdown there can never finish).

        A run_if task below is not skipped: the end of its dependency counts it down, and
        when that was its last one its rule decides (:meth:`dependencies_ended`). With
        ``failure`` (``task_id`` failed) the skipped tasks are marked :attr:`upstream_failed`.
        """
        state = self.state
        successors = self.successors
        names = self.names
        rules = self.rules if self.has_run_if else None
        stack = [(s, reason) for s in successors[task_id]]
        while stack:
            current, why = stack.pop()
            if rules is not None and rules[current] != ALL_SUCCEEDED:
                left = self.waiting[current] = self.waiting[current] - 1
                if left == 0 and state[current] == PENDING:
                    self.dependencies_ended(current)
                continue
            if state[current] != PENDING:
                continue
            state[current] = SKIPPED
            if failure:
                self.upstream_failed.add(current)
            self.reasons[current] = why
            self.finished_at[current] = self.clock.time()
            self.writer.emit(EventKind.TASK_SKIPPED, names[current], 0, {"reason": why})
            below = f"dependency {names[current]!r} was skipped"
            stack.extend((s, below) for s in successors[current])

    def _cancel_task(self, task_id: int, attempt: int) -> None:
        self.state[task_id] = CANCELLED
        self.finished_at[task_id] = self.clock.time()
        self.writer.emit(
            EventKind.TASK_CANCELLED, self.names[task_id], attempt, {"reason": self.stop_reason or "cancelled"}
        )
        self._skip_downstream(task_id, f"dependency {self.names[task_id]!r} was cancelled")

    # -- waits ------------------------------------------------------------------------------

    def wait(self, task_id: int, attempt: int, details: Mapping[str, Any]) -> None:
        """The attempt :meth:`pump` just started waits (for a signal, a time): free its slot.

        Called from the driver's ``start`` for that attempt. The task gives back its slot of
        the run's limit and of its pool, so waiting tasks never hold back other work, and is
        recorded as ``task_waiting`` with ``details`` (what it waits for, until when). It
        ends with :meth:`wait_succeeded` or :meth:`wait_failed`; until then the run is not done.
        """
        self.running -= 1
        if self.pooled:
            self.queue.release(task_id)
        self.state[task_id] = WAITING
        self.waits[task_id] = attempt
        self.writer.emit(EventKind.TASK_WAITING, self.names[task_id], attempt, details)

    def _end_wait(self, task_id: int) -> int | None:
        """Take ``task_id`` out of the waits as if its slot were held again; its attempt, or None."""
        attempt = self.waits.pop(task_id, None)
        if attempt is None:
            return None  # cancelled or stopped meanwhile: already recorded
        # The outcome methods give back the slot an attempt holds; a wait holds none, so take
        # it for the instant between (nothing is dispatched in between).
        self.running += 1
        if self.pooled:
            self.queue.hold(task_id)
        return attempt

    def wait_succeeded(self, task_id: int, output: Any, details: Mapping[str, Any] | None = None) -> bool:
        """The wait of ``task_id`` ended well: record ``output`` (and ``details`` in the event),
        count its dependents down. Returns False (and records nothing) when the task no longer waits.
        """
        attempt = self._end_wait(task_id)
        if attempt is None:
            return False
        self.succeeded(task_id, attempt, output, details)
        self.wake()
        return True

    def wait_failed(self, task_id: int, message: str, data: Mapping[str, Any] | None = None) -> bool:
        """The wait of ``task_id`` ended in a failure (a rejection, a timeout): final, never retried.

        ``data`` is added to the ``task_failed`` event (``signal_request``, ``by``). Returns
        False (and records nothing) when the task no longer waits.
        """
        attempt = self.waits.pop(task_id, None)
        if attempt is None:
            return False
        if self.lock_release is not None:
            self.lock_release(task_id)
        now = self.clock.time()
        details = {**(data or {}), "error": message, "duration": now - (self.started_at[task_id] or now)}
        self._fail_final(task_id, attempt, message, details)
        self.wake()
        return True

    def _cancel_waits(self) -> None:
        release = self.lock_release
        for task_id in list(self.waits):
            if release is not None:
                release(task_id)
            self._cancel_task(task_id, self.waits.pop(task_id))
        self._requeue_lock_waits()

    # -- locks ------------------------------------------------------------------------------

    def lock_wait(self, task_id: int) -> None:
        """The gate held ``task_id`` back (its lock is taken): give back the pool slot :meth:`pump`
        took for it and park it until :meth:`lock_retry_due`. It stays READY and never started."""
        if self.pooled:
            self.queue.release(task_id)
        self.lock_waiting.add(task_id)

    def lock_retry_due(self, task_id: int) -> None:
        """The driver's poll timer for a parked task fired: queue it again (its lock may be free)."""
        if task_id in self.lock_waiting:
            self.lock_waiting.discard(task_id)
            self.queue.push(task_id, self.attempts[task_id])
            self.wake()

    def _requeue_lock_waits(self) -> None:
        """A stop or cancel: parked tasks go back to the queue, to be settled as queued tasks are."""
        for task_id in list(self.lock_waiting):
            self.lock_waiting.discard(task_id)
            self.queue.push(task_id, self.attempts[task_id])

    # -- steering ---------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """No new dispatches; running attempts finish; waiting retries fail (``not retried: reason``);
        waiting tasks (:meth:`wait`) are cancelled with ``reason``."""
        self.stopping = True
        self.stop_reason = reason
        for task_id in list(self.retry_waiting):
            del self.retry_waiting[task_id]
            self._fail_final(task_id, self.attempts[task_id], f"not retried: {reason}", {})
        self._cancel_waits()  # a stopped run does not wait hours for an approval nobody needs now
        if self.has_run_if:
            self._settle_stopped(run_if=ALL_DONE)
        self.wake()

    def _settle_stopped(self, run_if: int) -> None:
        """The run stopped: skip now what will never start, so run_if tasks below can count down.

        Tasks whose rule is ``run_if`` or above (``ALL_DONE``: every run_if rule after a stop;
        ``ALWAYS`` after a cancel) keep waiting for their dependencies; the machine goes on
        dispatching them (:attr:`finalizing`).
        """
        self.finalizing = True
        reason = self.stop_reason or "stopped"
        rules = self.rules
        state = self.state
        queued = set(self.queue.drain())
        timing = self.timing
        now = self.clock.time() - timing.base
        for task_id in range(len(state)):
            if state[task_id] in (PENDING, READY) and rules[task_id] < run_if:
                if state[task_id] == READY and task_id not in queued:
                    continue  # already being dispatched
                if state[task_id] == READY:  # queued, now never started: its wait ends here
                    timing.started_sum += now
                self._skip(task_id, reason)
            elif state[task_id] == READY and task_id in queued:
                self.queue.push(task_id, self.attempts[task_id])

    def request_cancel(self, reason: str, details: Mapping[str, Any] | None = None) -> bool:
        """Cancel the run: record the request, start nothing more, cancel waiting retries.

        Returns True for the first request: the driver then cancels the running attempts
        (each reports :meth:`cancelled`). A second request returns False and changes
        nothing here; the driver escalates (kills what is still shutting down).
        """
        if self.cancel_requested:
            return False
        self.cancel_requested = True
        self.stopping = True
        self.stop_reason = f"run cancelled: {reason}"
        self.writer.emit(EventKind.RUN_CANCEL_REQUESTED, data={**(details or {}), "reason": reason})
        self.finalizing = False
        for task_id in list(self.retry_waiting):
            del self.retry_waiting[task_id]
            self._cancel_task(task_id, self.attempts[task_id])
        self._cancel_waits()
        if self.has_run_if:
            self._settle_stopped(run_if=ALWAYS)
        self.wake()
        return True

    def pause(self, details: Mapping[str, Any] | None = None) -> None:
        """Start nothing new until :meth:`unpause`; running attempts and retry timers carry on.

        Recorded as ``run_paused`` with ``details`` (the control channel's who and when).
        """
        self.paused = True
        self.writer.emit(EventKind.RUN_PAUSED, data=dict(details or {}))
        self.wake()

    def unpause(self, details: Mapping[str, Any] | None = None) -> None:
        """Dispatch again what became ready meanwhile; recorded as ``run_unpaused``."""
        self.paused = False
        self.writer.emit(EventKind.RUN_UNPAUSED, data=dict(details or {}))
        self.wake()

    # -- the end ----------------------------------------------------------------------------

    def finish(self, failed: bool | None = None) -> RunStatus:
        """Skip what never started, emit ``run_finished`` and return the run's status.

        ``failed`` overrides whether a failed task fails the run (a state machine decides by
        the state it ended in); a cancel always reads as cancelled.
        """
        state = self.state
        reason = self.stop_reason or "not reached"
        ended = self.clock.time()
        timing = self.timing
        timing.tally(ended)
        timing.waiting = NOTHING_WAITS
        if PENDING in state or READY in state:  # else nothing is left to settle: no walk over every task
            for task_id in range(len(state)):
                if state[task_id] == READY:  # queued until now, never started: its wait ends with the run
                    timing.started_sum += ended - timing.base
                if state[task_id] in (PENDING, READY):
                    state[task_id] = SKIPPED
                    self.reasons[task_id] = reason
                    self.finished_at[task_id] = self.clock.time()
                    self.writer.emit(EventKind.TASK_SKIPPED, self.names[task_id], 0, {"reason": reason})
        if self.cancel_requested:
            status = RunStatus.CANCELLED
        elif self.any_failed if failed is None else failed:
            status = RunStatus.FAILED
        else:
            status = RunStatus.SUCCEEDED
        summarize = self.summarize_timing or self._own_timing
        timing_data = summarize(self.clock.time())
        self.writer.emit(EventKind.RUN_FINISHED, data={"status": status.value, "timing": timing_data})
        return status

    def detach_driver(self) -> None:
        """Drop the hooks a driver set (each back to its default), once the run has ended.

        The hooks are the driver's bound methods (and those of its attempt inputs), so the
        driver and the machine referred to each other, and a finished run was a reference
        cycle: its objects, its plan with them when nothing else held it, were freed only by
        the cyclic collector, whose collections a run's leftovers brought about every few short
        runs (issue 10). Detached, they are freed by reference counting as soon as the run's
        result is dropped. The state lists stay as they are: the result reads them.
        """
        self.evaluate_when = _always
        self.evaluate_outputs = _no_named_outputs
        self.check_output = _accept
        self.storable_output = _as_is
        self.wake = _nothing
        self.summarize_timing = None
        self.inline_calls = None
        self.inline_raised = _reraise
        self.inline_returned = None
        self.lock_gate = None
        self.lock_release = None
        self.queue.retire()

    def _own_timing(self, finished: float) -> Mapping[str, Any]:
        """The timing summary with no store or sinks measured (a driver that has them replaces it)."""
        return self.timing.summary(finished, 0.0, 0.0, 0.0)

    def reopen(self, task_ids: Sequence[int]) -> list[int]:
        """Make ``task_ids`` (a closed group: their dependencies lie inside it) pending again and
        return those with no dependency, to :meth:`open`.

        A state machine runs a state's action list each time the state is entered, through this
        same machine. Attempt numbers continue (as for a retry), so each run of an action stays
        distinguishable in the history; outputs, errors and clocks start afresh.
        """
        group = set(task_ids)
        roots = []
        for task_id in task_ids:
            self.state[task_id] = PENDING
            self.outputs[task_id] = None
            self.named_outputs.pop(task_id, None)
            self.errors.pop(task_id, None)
            self.reasons.pop(task_id, None)
            self.upstream_failed.discard(task_id)
            self.deadline_at.pop(task_id, None)
            self.started_at[task_id] = self.finished_at[task_id] = None
            waiting = self.waiting[task_id] = sum(1 for p in self.plan.predecessors[task_id] if p in group)
            if waiting == 0:
                roots.append(task_id)
        return roots

    # -- resuming ---------------------------------------------------------------------------

    def restore(self, tasks: Mapping[str, Any], rerun: Collection[str] | None = None) -> list[int]:
        """Take succeeded tasks from a stored run's task states (name -> TaskState).

        A task that runs again continues its attempt numbers (the attempt a crash cut short
        counts as one) and its clock starts at its first attempt in this process, so neither
        its duration nor its deadline includes the time the run was down. Returns the ids
        of the restored tasks; :meth:`resumable_roots` then gives what is ready.

        ``rerun`` is for retrying a finished run: exactly those tasks run again (succeeded
        or not), and every other task keeps its recorded outcome, with no new event (a
        kept failure still fails the run). Without it (a resume) every task that did not
        succeed runs again.
        """
        index = self.plan.index
        again = None if rerun is None else {index[name] for name in rerun if name in index}
        restored = []
        for name, task_state in tasks.items():
            task_id = index.get(name)
            if task_id is None:
                continue
            self.attempts[task_id] = task_state.attempts
            status = task_state.status
            if again is not None and task_id not in again and status is not TaskStatus.SUCCEEDED:
                self._keep_outcome(task_id, task_state)
                continue
            if status is not TaskStatus.SUCCEEDED or (again is not None and task_id in again):
                continue
            self.state[task_id] = SUCCEEDED
            self.outputs[task_id] = task_state.output
            if task_state.started_at is not None:
                self.started_at[task_id] = task_state.started_at
            if task_state.finished_at is not None:
                self.finished_at[task_id] = task_state.finished_at
            restored.append(task_id)
        if again is not None:
            for task_id in range(len(self.state)):
                if self.state[task_id] == PENDING and task_id not in again and self.names[task_id] not in tasks:
                    self.state[task_id] = SKIPPED  # never reached, and not chosen: stays unreached
                    self.reasons[task_id] = "not reached"
        return restored

    def _keep_outcome(self, task_id: int, task_state: Any) -> None:
        """A retry leaves this finished, not-succeeded task as recorded (no event)."""
        status = task_state.status
        if status is TaskStatus.FAILED:
            self.state[task_id] = FAILED
            self.errors[task_id] = task_state.error or "failed"
            self.any_failed = True
        elif status is TaskStatus.CANCELLED:
            self.state[task_id] = CANCELLED
        else:  # skipped (a stored run that finished has nothing running or pending)
            self.state[task_id] = SKIPPED
            self.reasons[task_id] = task_state.reason or "skipped"
        self.started_at[task_id] = task_state.started_at
        self.finished_at[task_id] = task_state.finished_at

    def resumable_roots(self) -> list[int]:
        """After :meth:`restore`: recount each unfinished task's dependencies; those at zero are ready.

        Only succeeded tasks are restored, so every other task runs again and a run_if task
        waits for all of them again, as a fresh run would.
        """
        predecessors = self.plan.predecessors
        state = self.state
        ready = []
        for task_id in range(len(state)):
            if state[task_id] != PENDING:
                continue
            self.waiting[task_id] = sum(1 for p in predecessors[task_id] if state[p] != SUCCEEDED)
            if self.waiting[task_id] == 0:
                ready.append(task_id)
        return ready

    def task_result(self, task_id: int) -> Mapping[str, Any]:
        """``tasks.<name>`` as expressions see it."""
        return {
            "output": self.outputs[task_id],
            "outputs": self.named_outputs.get(task_id, {}),
            "status": STATUS[self.state[task_id]].value,
        }
