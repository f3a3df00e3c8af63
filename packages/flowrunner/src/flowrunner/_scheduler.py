"""The asyncio driver of one run: wires the scheduling parts together on the event loop.

The rules live in :mod:`flowrunner.scheduling` (the state machine, the ready queue, the
attempt inputs); running an attempt is an :class:`~flowbuilder.interfaces.AttemptExecutor`'s
job. What is left here is what needs the loop: the main loop (pump, flush, sleep until
something happens), the retry timers the state machine asks for, the executors' callbacks,
cancellation, pausing, draining and the run's result.

The hot path stays flat: a plain task (no expressions, no ``foreach``) of an INLINE type is
called right here, on the scheduler's thread, with no Attempt, task or thread hop, as long as
the runner uses its own inline executor; its outcome goes to the state machine like every
other attempt's. A plain ``async`` one (an ASYNC type's context-free call, such as a ``python``
``async def``) is called here too, and the awaitable it returns is awaited in an asyncio task
that reports its own end (:meth:`RunExecution._await`): no Attempt, context or executor
bookkeeping, and no done-callback a loop turn later, as long as the runner uses its own async
executor.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
import uuid
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, ItemsView, Iterator, Mapping, Sequence, ValuesView

from flowbuilder.events import EventKind, RunEvent, TaskState, TaskStatus
from flowbuilder.interfaces import (
    Attempt,
    AttemptExecutor,
    AttemptOutcome,
    ExecutionMode,
    RunResult,
    TaskContext,
    TaskFailure,
)
from flowbuilder.interfaces.sink import EventSink
from flowbuilder.secrets import SecretMasker, masked_params, masker_for, secret_param_values
from flowrunner._control import RunControl, start_control
from flowrunner._event_writer import EventWriter
from flowrunner._heap_freeze import heap_frozen
from flowrunner._outputs import OutputBudget, is_table_reference, restored_output, storable_output
from flowrunner._run_owner import RUN_OWNER  # not _process: a run without processes never imports it
from flowrunner.executors import AsyncExecutor, InlineExecutor, with_timeout
from flowrunner.scheduling.inputs import AttemptInputs, AttemptLog
from flowrunner.scheduling.ready_queue import ReadyQueue
from flowrunner.scheduling.result_cache import attempt_cache_for
from flowrunner.scheduling.state import PLAIN_TYPES, STATUS, SUCCEEDED, RunStateMachine
from flowrunner.scheduling.task_columns import mapped, task_columns

if TYPE_CHECKING:
    from flowbuilder.interfaces import RunRequest, TaskType
    from flowrunner._locks import LockKeeper
    from flowrunner._waits import WaitRoom
    from flowrunner._workflow_states import WorkflowStates
    from flowrunner.runner import LocalRunner
    from flowrunner.tasktypes._waiting import WaitingTaskType
    from flowrunner.tasktypes.workflow import WorkflowTask

_INLINE = ExecutionMode.INLINE
_ASYNC = ExecutionMode.ASYNC
_OUTCOME_SUCCEEDED = AttemptOutcome.SUCCEEDED
_OUTCOME_FAILED = AttemptOutcome.FAILED


def _loaded_class(module: str, name: str) -> Any:
    """``module.name`` if the module is imported, else None (and the module stays unimported).

    An instance of a class cannot exist before the class's module was imported, so a run
    whose task types come from other modules learns that none of them is one without
    importing it: a run of ``python`` tasks skips the ``workflow`` and waiting types' modules
    and their pydantic models (several ms of a fresh process's first run, issue 10).
    """
    loaded = sys.modules.get(module)
    return None if loaded is None else getattr(loaded, name)


class RunExecution:
    """Executes one :class:`RunRequest` on the running event loop (use once)."""

    __slots__ = ("async_here", "awaited", "cache", "calls", "cancel_event", "child_tasks", "clock", "configs", "control", "depth", "executors", "inflight", "inline_here", "inputs", "io_in_steps", "limit", "locks", "loop", "machine", "masker", "modes", "params", "plain", "plain_env", "plan", "queue", "recording_error", "request", "run_id", "runner", "states", "succeeded", "timers", "types", "wait_room", "wake_future", "writer")  # fmt: skip

    def __init__(self, runner: LocalRunner, request: RunRequest, cancel: asyncio.Event | None):
        plan = request.plan
        workflow = plan.workflow
        self.runner = runner
        self.request = request
        self.plan = plan
        self.cancel_event = cancel
        resume = request.resume
        self.run_id = request.run_id or (resume.run_id if resume is not None else uuid.uuid4().hex)
        self.params: Mapping[str, Any] = dict(request.params)
        # Each type looked up once (the runner's mapping builds types lazily), then mapped per task at C speed.
        type_names = task_columns(workflow).type
        try:
            by_name = {name: runner.task_types[name] for name in dict.fromkeys(type_names)}
        except KeyError as missing:
            from flowbuilder.errors import ConfigurationError

            raise ConfigurationError(f"task type {missing.args[0]!r} is not available to this runner") from None
        self.types: list[TaskType] = mapped(by_name.__getitem__, type_names)
        limit = request.concurrency or workflow.concurrency or runner.default_concurrency
        self.limit = limit
        self.clock = time  # read here, so a test that replaces this module's `time` drives the whole run
        self.queue = self._ready_queue(runner)
        secrets: Mapping[str, str] = request.secrets
        masker = masker_for(secrets, secret_param_values(workflow, self.params))
        self.masker: SecretMasker | None = masker if masker else None
        # A resumed or retried run appends after the state it was prepared from (not after
        # whatever the store holds now): a second resume or retry prepared from that same state
        # is then refused by the store's expected sequence number instead of running again.
        start_seq = resume.seq if resume is not None else 0
        self.writer = EventWriter(self.run_id, request.store, request.sinks, start_seq, keep=runner.keep_events,
                                  masker=self.masker, wake=self._wake, fence=request.fence)  # fmt: skip
        machine = self.machine = RunStateMachine(plan, self.writer, self.queue, limit, self.clock)
        run_names = {"id": self.run_id, "logical_time": request.logical_time}
        inputs = self.inputs = AttemptInputs(plan, self.types, machine, self.params, secrets, run_names)
        machine.evaluate_when = inputs.when
        machine.evaluate_outputs = inputs.named_outputs
        machine.check_output = OutputBudget(runner.max_output_bytes, runner.max_run_output_bytes).refusal
        machine.storable_output = partial(storable_output, self)
        machine.wake = self._wake
        self.cache = attempt_cache_for(request, machine, inputs, self.writer, self.masker)
        """The run's result cache (None when no task is cached): its tasks leave the plain path."""
        self.succeeded = machine.succeeded if self.cache is None else self.cache.succeeded
        """Where an attempt's success goes: the machine, or the cache that stores it after the machine."""
        machine.timing.compile_seconds = request.compile_seconds
        machine.summarize_timing = self._timing_summary
        self.io_in_steps = 0.0
        """Seconds the writer spent inside scheduling steps (its inline flushes): not dispatch."""
        # What the hot path reads per attempt, bound once (AttemptInputs fills them lazily).
        self.plain = inputs.plain
        self.plain_env = inputs.plain_env
        self.modes = inputs.modes
        self.configs = plan.configs
        self.executors: Mapping[ExecutionMode, AttemptExecutor] = runner.executors_for_request(request)
        inline = self.executors[_INLINE]
        self.inline_here = type(inline) is InlineExecutor
        """Plain INLINE attempts are called by the driver itself (same rules, no Attempt built)."""
        self.async_here = type(self.executors[_ASYNC]) is AsyncExecutor
        """Plain ASYNC attempts with a context-free call are called and awaited by the driver itself (:meth:`_await`)."""
        self.wait_room = self._wait_room()
        self.locks = self._task_locks()
        self.inflight: dict[int, tuple[AttemptExecutor, Attempt]] = {}
        self.awaited: dict[int, tuple[asyncio.Task[None], int, Any]] = {}
        """Task id -> (asyncio task, attempt number, awaitable) of each attempt the driver awaits itself (:meth:`_await`)."""
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.wake_future: asyncio.Future[None] | None = None
        # What recording an attempt's success raised while the driver was not waiting on
        # wake_future (:meth:`_driver_raises`); the driver raises it at the top of its next turn.
        self.recording_error: Exception | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.control: RunControl | None = None
        self.states: WorkflowStates | None = None
        """The driver of a state-machine workflow (``states:``); None for a DAG."""
        if plan.states is not None:
            from flowrunner._workflow_states import WorkflowStates

            self.states = WorkflowStates(self, plan.states, resume)

        self.depth = request.parent.depth if request.parent is not None else 0
        """How many sub-workflow levels below its top-level run this run is (0: it is one)."""
        self.child_tasks = self._child_tasks()
        """Ids of ``workflow`` tasks: their attempts are child runs (:mod:`flowrunner._subworkflow`)."""
        self.calls = self._context_free_calls()
        """Per task, the call that needs no :class:`TaskContext` (None: the attempt gets one, as every
        task but a plain INLINE one whose type offers it). Last: the steps above take tasks off the plain path."""
        if self.cache is None:  # every success goes to machine.succeeded: the machine may settle it itself
            machine.inline_calls = self.calls
            machine.inline_raised = self._inline_raised
            machine.inline_returned = self._inline_returned

    def _child_tasks(self) -> frozenset[int]:
        """The ``workflow`` tasks, taken off the hot path: each attempt starts a child run."""
        workflow_type: type[WorkflowTask] | None = _loaded_class("flowrunner.tasktypes.workflow", "WorkflowTask")
        if workflow_type is None:  # no instance without its module: no workflow task in this run
            return frozenset()
        found = frozenset(
            task_id for task_id, task_type in enumerate(self.types) if isinstance(task_type, workflow_type)
        )
        for task_id in found:
            self.plain[task_id] = False
        return found

    def _wait_room(self) -> WaitRoom | None:
        """The run's :class:`WaitRoom` when it has waiting tasks (approvals, timers), else None."""
        waiting_type: type[WaitingTaskType] | None = _loaded_class("flowrunner.tasktypes._waiting", "WaitingTaskType")
        if waiting_type is None:  # no instance without its module: nothing waits in this run
            return None
        waiting = {task_id: task_type for task_id, task_type in enumerate(self.types)
                   if isinstance(task_type, waiting_type)}  # fmt: skip
        if not waiting:
            return None
        from flowrunner._waits import WaitRoom

        for task_id in waiting:
            self.plain[task_id] = False  # a wait never takes the hot path: _start hands it to the room
        return WaitRoom(self, waiting)

    def _task_locks(self) -> LockKeeper | None:
        """The run's :class:`LockKeeper` when a task takes a ``lock:``, wired into the machine; else None."""
        if self.plan.workflow.defaults.lock is None and not any(task_columns(self.plan.workflow).lock):
            return None
        from flowrunner._locks import task_locks

        locks = task_locks(self)
        if locks is None:
            return None
        self.machine.lock_gate = locks.gate
        self.machine.lock_release = locks.release
        for task_id in locks.locks:
            self.plain[task_id] = False  # its environment gets the token: _start's long path
        return locks

    def _ready_queue(self, runner: LocalRunner) -> ReadyQueue:
        plan = self.plan
        workflow = plan.workflow
        columns = task_columns(workflow)
        defaults = workflow.defaults
        pool_limits: dict[str, int] = dict(workflow.pools)
        # Per-type default limits act as implicit pools ("type:shell") for tasks without a pool.
        type_limits = {name: limit for name, limit in runner.type_limits.items() if limit}
        for name, limit in type_limits.items():
            pool_limits[f"type:{name}"] = limit
        pool_of = (
            [
                pool or defaults.pool or (f"type:{type_name}" if type_name in type_limits else None)
                for pool, type_name in zip(columns.pool, columns.type, strict=True)
            ]
            if pool_limits
            else None
        )
        default_priority = defaults.priority or 0
        own = columns.priority
        if own.count(None) == len(own):  # the usual case, at C speed
            priorities: list[float] = [default_priority] * len(own)
        else:
            priorities = [default_priority if priority is None else priority for priority in own]
        return ReadyQueue(priorities, plan.remaining_path, self.clock.monotonic, pool_of, pool_limits)

    # -- steering (also for the control channel) --------------------------------------------

    def request_cancel(self, reason: str, details: Mapping[str, Any] | None = None) -> None:
        """Cancel the run: nothing more starts, running attempts are cancelled; a second request kills.

        ``details`` (who asked, when: the control channel's request) go into ``run_cancel_requested``.
        """
        if not self.machine.request_cancel(reason, details):
            from flowrunner._process import kill_process_groups

            kill_process_groups(owner=self)
            return
        self._cancel_timers()
        for executor, attempt in list(self.inflight.values()):
            executor.cancel(attempt)
        self._cancel_awaited()
        self._wake()

    _request_cancel = request_cancel

    def pause(self, details: Mapping[str, Any] | None = None) -> None:
        """Start no new attempt until :meth:`unpause`; running attempts and retry timers go on.

        Recorded as ``run_paused`` with ``details`` (who asked, when).
        """
        self.machine.pause(details)

    def unpause(self, details: Mapping[str, Any] | None = None) -> None:
        """Dispatch again (what became ready while paused starts now); recorded as ``run_unpaused``."""
        self.machine.unpause(details)
        from flowrunner._foreach import ForeachAttempt

        for executor, _ in list(self.inflight.values()):
            if isinstance(executor, ForeachAttempt):  # a foreach task's items waited too
                executor.unpaused()

    # -- the main loop ----------------------------------------------------------------------

    async def execute(self) -> RunResult:
        owner_token = RUN_OWNER.set(self)  # the attempts' tasks inherit it: processes know their run
        try:
            with heap_frozen(len(self.plan)):  # a large run's full collections walk its objects, not the plan's
                return await self._execute()
        finally:
            RUN_OWNER.reset(owner_token)
            self._detach()

    def _detach(self) -> None:
        """Drop the references back to this run once it has ended, so its objects go by reference counting.

        The machine's hooks, the writer's wake-up and the control channel's run are this run's
        bound methods or the run itself, and this run refers to each of them: every finished
        run was a reference cycle (with its plan, when nothing else held it), left to the cyclic
        collector, whose collections it brought about every few short runs (issue 10). What the
        result reads (the plan, the machine's state lists, the masker) stays.
        """
        self.machine.detach_driver()
        self.writer.wake = None
        self.control = None

    async def _execute(self) -> RunResult:
        self.loop = loop = asyncio.get_running_loop()
        self.writer.follow_logs_on(loop)
        started_wall = time.time()
        resume = self.request.resume
        self.control = await start_control(self, resume.control_seen if resume is not None else 0)
        self._open_run()
        # The cancel event is watched from the run's first wait on: only while the run waits does
        # the loop run anything else (a cancel), so a run that ends within its first step never
        # makes, starts and cancels a watcher task it could not use (issue 10).
        watch = self.cancel_event is not None
        watcher: asyncio.Task[None] | None = None
        writer = self.writer
        machine = self.machine
        states = self.states
        start = self._start
        try:
            while True:
                if self.recording_error is not None:
                    raise self.recording_error
                io_before = writer.loop_seconds
                machine.pump(start)
                self.io_in_steps += writer.loop_seconds - io_before
                writer.flush()
                if machine.done:
                    # A state machine moves on when its actions have ended: it opens the next
                    # actions (pump again), waits for a signal (sleep below) or ends the run.
                    if states is None or states.advance():
                        break
                    if machine.has_ready():
                        continue
                    writer.flush()
                if watch and watcher is None:
                    watcher = loop.create_task(self._watch_cancel())
                if writer.backlogged:  # the store is behind: this run waits for it, the loop does not
                    await writer.wait_for_room()
                    continue
                if machine.stopping and self.timers:
                    self._cancel_timers()  # their retries were settled when the run stopped
                self.wake_future = loop.create_future()
                await self.wake_future
        except asyncio.CancelledError:
            # The caller cancelled run_async itself: clean up like a cancel request, then re-raise.
            self.request_cancel("the run's asyncio task was cancelled")
            await self._drain()
            await self._finish_run(started_wall)
            raise
        except BaseException:
            # A store or sink failure (or a bug): stop what this run started before reporting it.
            writer.abandon()
            machine.stopping = True
            self._cancel_timers()
            for executor, attempt in list(self.inflight.values()):
                executor.cancel(attempt)
            self._cancel_awaited()
            await self._drain()
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
            if self.control is not None:
                self.control.close()
            self._cancel_timers()
            if self.wait_room is not None:
                self.wait_room.close()
            if self.locks is not None:
                self.locks.close()
        return await self._finish_run(started_wall)

    def _open_run(self) -> None:
        writer = self.writer
        request = self.request
        workflow = self.plan.workflow
        resume = request.resume
        parent = request.parent
        if resume is None:
            created: dict[str, Any] = {
                "workflow": workflow.name, "version": workflow.version,
                "definition_hash": request.definition_hash, "params": masked_params(workflow, self.params)}  # fmt: skip
            if request.subworkflows:
                created["subworkflows"] = dict(request.subworkflows)
            writer.emit(EventKind.RUN_CREATED, data=created)
            started: dict[str, Any] = {"runner": self.runner.name, "resumed": False}
            if parent is not None:
                started["parent"] = parent.as_data()
            if request.idempotency_key is not None:
                started["idempotency_key"] = request.idempotency_key
            if request.logical_time is not None:
                started["logical_time"] = request.logical_time
            if request.fence is not None:
                started["fence"] = request.fence.as_data()
            writer.emit(EventKind.RUN_STARTED, data=started)
            roots: Sequence[int] = self.plan.roots() if self.states is None else self.states.start()
        else:
            started = {"runner": self.runner.name, "resumed": True}
            if request.retry is not None:
                started["retry"] = dict(request.retry)
            if parent is not None:
                started["parent"] = parent.as_data()
            if request.logical_time is not None:
                started["logical_time"] = request.logical_time
            if request.fence is not None:
                started["fence"] = request.fence.as_data()
            writer.emit(EventKind.RUN_STARTED, data=started)
            roots = self._restore(resume)
        self.machine.open(roots)

    def _restore(self, resume: Any) -> list[int]:
        """Take succeeded tasks from a stored run (:meth:`RunStateMachine.restore`); read back their tables."""
        machine = self.machine
        retry = self.request.retry
        rerun = None if retry is None else retry["rerun"]
        if self.states is not None:  # only the entry (or compensation) actions it was in run again
            rerun = self.states.restore(resume.tasks)
        restored = machine.restore(resume.tasks, rerun)
        tables = [task_id for task_id in restored if is_table_reference(machine.outputs[task_id])]
        if tables:
            self._restore_tables(tables)
        tasks = self.plan.workflow.tasks
        for task_id in restored:
            if tasks[task_id].outputs:
                try:
                    machine.named_outputs[task_id] = self.inputs.named_outputs(task_id, machine.outputs[task_id])
                except Exception:  # a dependent reading them reports the undefined name itself
                    pass
        return machine.resumable_roots()

    def _restore_tables(self, tables: list[int]) -> None:
        """Read back the stored tables of ``tables`` that a task still to run depends on.

        Expressions may only read upstream tasks, so only ancestors of unfinished tasks can
        need a table; the others stay references and cost no read.
        """
        store = self.request.store
        if store is None:
            return
        machine = self.machine
        predecessors = self.plan.predecessors
        needed = [False] * len(machine.state)
        stack = [task_id for task_id, state in enumerate(machine.state) if state != SUCCEEDED]
        while stack:
            for upstream in predecessors[stack.pop()]:
                if not needed[upstream]:
                    needed[upstream] = True
                    stack.append(upstream)
        for task_id in tables:
            if needed[task_id]:
                machine.outputs[task_id] = restored_output(store, machine.names[task_id], machine.outputs[task_id])

    async def _watch_cancel(self) -> None:
        assert self.cancel_event is not None
        while True:
            await self.cancel_event.wait()
            self.request_cancel("cancel requested")
            self.cancel_event.clear()

    def _wake(self) -> None:
        future = self.wake_future
        if future is not None and not future.done():
            future.set_result(None)

    # -- attempts ---------------------------------------------------------------------------

    def _start(self, task_id: int, attempt: int) -> None:
        """Called by :meth:`RunStateMachine.pump` for each attempt it starts."""
        call = self.calls[task_id]
        if call is None:
            self._start_with_context(task_id, attempt)
            return
        # The hot path: a plain INLINE task whose call needs no TaskContext, called right here
        # (or by the machine itself, RunStateMachine.inline_calls, which ends here when it must).
        try:
            result = call()
        except BaseException as error:  # what each means: _inline_raised
            self._inline_raised(task_id, attempt, error)
            return
        self._inline_returned(task_id, attempt, result)

    def _inline_returned(self, task_id: int, attempt: int, result: Any) -> None:
        """A context-free call returned ``result``: its success, or an awaitable (an ASYNC task's
        coroutine, or what a plain function returned) that the driver awaits (:meth:`_await`)."""
        if result is None or type(result) in PLAIN_TYPES or not inspect.isawaitable(result):
            self.succeeded(task_id, attempt, result)
            return
        self._await(task_id, attempt, result, self._attempt_timeout(task_id)[0])

    def _await(self, task_id: int, attempt: int, awaitable: Any, timeout: float | None) -> None:
        """Await what the call of ``attempt`` returned, in an asyncio task that reports its end itself.

        What the run's own executors would do (:class:`~flowrunner.executors.AsyncExecutor`, or
        the inline one for an awaitable a plain function returned), with less on the loop per
        attempt: no :class:`Attempt` or :class:`TaskContext` (the call has been made), and the
        outcome is recorded as the awaitable ends, in the task's own last step, rather than by a
        done-callback that asyncio runs one loop turn later. Its successors are ready that much
        sooner, which is what a DAG of thousands of short ``async`` tasks feels (bench/real_dag.py).
        A cancel (:meth:`_cancel_awaited`) reaches the awaitable as it would through the executor.
        """
        loop = self.loop
        assert loop is not None
        self.awaited[task_id] = (loop.create_task(self._awaiting(task_id, attempt, awaitable, timeout)), attempt,
                                 awaitable)  # fmt: skip

    async def _awaiting(self, task_id: int, attempt: int, awaitable: Any, timeout: float | None) -> None:
        """The body of :meth:`_await`'s task: the outcome as an executor reports it (``AttemptOutcome``):
        the value, a :class:`TaskFailure` as it says, any other exception as ``Type: message``, a
        ``TimeoutError`` of ``timeout`` as a timed-out failure, a cancel as cancelled."""
        try:
            output = await (awaitable if timeout is None else with_timeout(awaitable, timeout))
        except asyncio.CancelledError:
            if self._awaited_ended(task_id, attempt) and not self._lost_lock(task_id, attempt):
                self.machine.cancelled(task_id, attempt)
                self._wake()
            raise
        except BaseException as error:  # as the executors report it; KeyboardInterrupt and SystemExit go on
            if self._awaited_ended(task_id, attempt) and not self._lost_lock(task_id, attempt):
                self._raised(task_id, attempt, error)
                self._wake()
            if not isinstance(error, Exception):
                raise
            return
        if self._awaited_ended(task_id, attempt):
            try:
                self.succeeded(task_id, attempt, output)
            except Exception as error:  # a store refusing a table's blob, a bug: no try cost until it catches
                self._driver_raises(error)
                return
            self._wake()

    def _driver_raises(self, error: Exception) -> None:
        """Recording an attempt's success (awaited here, or reported by an executor) raised ``error``: the driver raises it where it
        waits, so the run stops as it does when recording an inline task's success raises (its
        ``except BaseException``), instead of waiting for an end that was never recorded.

        The driver waits on :attr:`wake_future`; when that is not there to take it (already woken
        this turn, or the driver waits for the store's room) the error is kept in
        :attr:`recording_error`, which the driver raises at the top of its next turn (the only
        place it goes after either wait), so nothing spins while the store makes room.
        """
        future = self.wake_future
        if future is not None and not future.done():
            future.set_exception(error)
        elif self.recording_error is None:
            self.recording_error = error

    def _awaited_ended(self, task_id: int, attempt: int) -> bool:
        """Take ``attempt`` of ``task_id`` out of :attr:`awaited`: True the first time (its end is
        recorded exactly once), False when it is not (or no longer) there."""
        held = self.awaited.get(task_id)
        if held is None or held[1] != attempt:
            return False
        del self.awaited[task_id]
        return True

    def _cancel_awaited(self) -> None:
        """Cancel the attempts the driver awaits itself; each reports ``cancelled`` as its task ends.

        A task cancelled before its first step never runs its body (asyncio throws the cancel
        into the coroutine before its first line), so its end is also watched from outside:
        :meth:`_awaited_cancelled` records what the body did not.
        """
        for task_id in list(self.awaited):
            self.cancel_awaited(task_id)

    def cancel_awaited(self, task_id: int) -> None:
        """Cancel the attempt of ``task_id`` the driver awaits itself, if any (also for a task
        that lost its lock: :class:`~flowrunner._locks.LockKeeper`); it reports as it ends."""
        held = self.awaited.get(task_id)
        if held is None:
            return
        job, attempt, awaitable = held
        if job.cancel():
            job.add_done_callback(partial(self._awaited_cancelled, task_id, attempt, awaitable))

    def _awaited_cancelled(self, task_id: int, attempt: int, awaitable: Any, job: asyncio.Task[None]) -> None:
        """A cancelled awaited attempt's task ended: record ``cancelled`` if its body never ran."""
        if not self._awaited_ended(task_id, attempt):
            return  # the body recorded its own end
        if inspect.iscoroutine(awaitable):
            awaitable.close()  # never awaited, and never will be: no "was never awaited" warning
        if not self._lost_lock(task_id, attempt):
            self.machine.cancelled(task_id, attempt)
        self._wake()

    def _lost_lock(self, task_id: int, attempt: int) -> bool:
        """An attempt that did not succeed ended: if it was cancelled for losing its lock, fail it
        with the reason, as :meth:`_on_done` does for an executor's attempt (True: recorded)."""
        locks = self.locks
        if locks is None or not locks.lost_reasons:
            return False
        lost = locks.lost_reasons.pop(task_id, None)
        if lost is None:
            return False
        self._failed(task_id, attempt, TaskFailure(lost), lost)
        self._wake()
        return True

    def _context_free_calls(self) -> list[Callable[[], Any] | None]:
        """Each task's context-free call: only plain INLINE tasks this driver calls itself, and plain
        ASYNC ones it awaits itself (:meth:`_await`), have one, when their type offers it
        (:func:`_context_free_call`).

        The type is asked once per stretch of tasks with the same type and config object
        (:attr:`AttemptInputs.stretches <flowrunner.scheduling.inputs.AttemptInputs.stretches>`):
        the compiler gives tasks with equal configs one shared validated config, so a generated
        fan-out of one function asks its type once, not once per task (about 0.5 µs each).
        """
        count = len(self.plan)
        inline_here = self.inline_here
        async_here = self.async_here
        if not inline_here and not async_here:
            return [None] * count
        plain = self.plain
        modes = self.modes
        types = self.types
        configs = self.configs
        calls: list[Callable[[], Any] | None] = []
        for start, end in self.inputs.stretches:
            # A stretch's plain tasks share one mode (asked of the same type and config); a
            # stretch with no plain task left (child runs, waits, locks) asks nothing.
            stretch = zip(islice(modes, start, end), islice(plain, start, end), strict=True)
            mode = next((mode for mode, is_plain in stretch if is_plain and mode is not None), None)
            if (mode is _INLINE and inline_here) or (mode is _ASYNC and async_here):
                calls += [_context_free_call(types[start], configs[start])] * (end - start)
            else:
                calls += [None] * (end - start)
        if plain.count(True) == count:
            return calls
        return [call if is_plain else None for call, is_plain in zip(calls, plain, strict=True)]

    def _attempt_timeout(self, task_id: int) -> tuple[float | None, float | None]:
        """The attempt's timeout and its monotonic deadline (both None for a run without time limits)."""
        machine = self.machine
        if not machine.has_timeout:
            return None, None
        now = machine.started_monotonic
        timeout = machine.attempt_timeout(task_id, now)
        return timeout, (now + timeout if timeout is not None else None)

    def _start_with_context(self, task_id: int, attempt: int) -> None:
        """An attempt that gets a :class:`TaskContext`: rendered, cached, waiting, locked, child or
        executor-run tasks, and plain ones whose type offers no context-free call."""
        inputs = self.inputs
        if self.plain[task_id]:
            # A static config, no expressions, no fan-out.
            config = self.configs[task_id]
            env = self.plain_env[task_id]
            mode = self.modes[task_id]
            if env is None or mode is None:
                config, env, mode = inputs.plain_inputs(task_id)
        else:
            try:
                locks = self.locks
                if locks is not None and task_id in locks.refused:
                    raise TaskFailure(locks.refused[task_id])
                cache = self.cache
                if cache is not None and cache.policies[task_id] is not None and cache.serve(task_id, attempt):
                    return  # served from the cache: the attempt ended as it started
                if self.plan.workflow.tasks[task_id].foreach is not None:
                    self._start_foreach(task_id, attempt)
                    return
                room = self.wait_room
                if room is not None and room.takes(task_id):
                    room.begin(task_id, attempt)  # waits without an attempt: no executor, no slot
                    return
                if cache is not None and task_id not in self.plan.expression_tasks:
                    config, env, mode = inputs.plain_inputs(task_id)  # cached, else plain: nothing to render
                else:
                    config, env, mode = inputs.rendered_inputs(task_id, inputs.scope(task_id))
                if locks is not None:
                    lock_env = locks.env(task_id)
                    if lock_env is not None:
                        env = {**env, **lock_env}
                if task_id in self.child_tasks:
                    self._start_child(task_id, attempt, config, env)
                    return
            except TaskFailure as failure:
                self._failed(task_id, attempt, failure, str(failure))
                return
            except Exception as error:
                self._failed(task_id, attempt, TaskFailure(str(error), retryable=False), str(error))
                return
        timeout, deadline = self._attempt_timeout(task_id)
        context = self._context(task_id, attempt, env, deadline)
        if mode is _INLINE and self.inline_here:
            try:
                result = self.types[task_id].run(config, context)
            except BaseException as error:  # what each means: _inline_raised
                self._inline_raised(task_id, attempt, error)
                return
            if result is None or type(result) in PLAIN_TYPES or not inspect.isawaitable(result):
                self.succeeded(task_id, attempt, result)
                return
            self._await(task_id, attempt, result, timeout)
            return
        self._submit(
            self.executors[mode], inputs.attempt(task_id, context.task, attempt, config, mode, context, timeout)
        )

    def _inline_raised(self, task_id: int, attempt: int, error: BaseException) -> None:
        """What an inline call's exception means, for both inline paths of :meth:`_start`: a
        :class:`TaskFailure` fails the attempt as it says, any other exception fails it with
        its type and message, and a KeyboardInterrupt (Ctrl-C, or the CLI's nudge, stopped a
        call that would not return) cancels the run. Other exceptions that are not an
        ``Exception`` (a plugin's own ``BaseException`` subclass, ``GeneratorExit``) fail the
        attempt like any other, as the async and thread executors report them, instead of
        escaping the driver with a traceback; a ``SystemExit`` fails it and then goes on, as
        it does from those executors."""
        if isinstance(error, KeyboardInterrupt):
            self.request_cancel("interrupted while running an inline call")
            self.machine.cancelled(task_id, attempt)
            return
        self._raised(task_id, attempt, error)
        if isinstance(error, SystemExit):
            raise error

    def _raised(self, task_id: int, attempt: int, error: BaseException) -> None:
        """The call of ``attempt`` raised ``error``: it fails as an executor reports it
        (:meth:`AttemptOutcome.failed <flowbuilder.interfaces.AttemptOutcome.failed>`: a
        :class:`TaskFailure` as it says, any other exception with its type and message)."""
        outcome = AttemptOutcome.failed(error)
        self._failed(task_id, attempt, outcome.failure, outcome.message)

    def _context(self, task_id: int, attempt: int, env: Mapping[str, str], deadline: float | None) -> TaskContext:
        """The :class:`TaskContext` of an attempt: its inputs are the direct dependencies' outputs."""
        predecessors = self.plan.predecessors[task_id]
        machine = self.machine
        outputs = machine.outputs
        names = machine.names
        name = names[task_id]
        return TaskContext(
            self.run_id, name, attempt,
            {names[p]: outputs[p] for p in predecessors} if predecessors else {},
            self.params, env, None, deadline, AttemptLog(self.writer, name, attempt),
        )  # fmt: skip

    def signalled(self, signal: Mapping[str, Any]) -> None:
        """A signal was recorded in the run's history (``run_signalled`` data): hand it to the waits."""
        if self.wait_room is not None:
            self.wait_room.signalled(signal)
        self._wake()

    def _start_foreach(self, task_id: int, attempt: int) -> None:
        from flowrunner._foreach import ForeachAttempt

        inputs = self.inputs
        scope = inputs.scope(task_id)
        items = inputs.foreach_items(task_id, scope)
        fanout = self.plan.workflow.tasks[task_id].fanout
        assert fanout is not None
        name = self.machine.names[task_id]
        foreach = ForeachAttempt(
            self,
            task_id,
            scope,
            items,
            fanout.max_parallel or self.limit,
            fanout.on_item_failure == "continue",
            self._recorded_items(name),
        )
        context = TaskContext(self.run_id, name, attempt, {}, self.params, inputs.workflow_env)
        self._submit(foreach, inputs.attempt(task_id, name, attempt, None, ExecutionMode.ASYNC, context, None))

    def _recorded_items(self, name: str) -> Mapping[int, Any] | None:
        """The items a resumed or retried run recorded for ``name``, unless the task succeeded.

        A task that succeeded runs again only when a retry chose it (``--from``/``--only``):
        then every item runs again, as asked.
        """
        resume = self.request.resume
        if resume is None:
            return None
        recorded = resume.tasks.get(name)
        if recorded is None or recorded.status is TaskStatus.SUCCEEDED:
            return None
        items: Mapping[int, Any] | None = recorded.items
        return items

    # -- sub-workflows ----------------------------------------------------------------------

    def _start_child(self, task_id: int, attempt: int, config: Any, env: Mapping[str, str]) -> None:
        """An attempt of a ``workflow`` task: a child run, driven here (never by an executor)."""
        from flowrunner._subworkflow import ChildRunAttempt

        machine = self.machine
        timeout = machine.attempt_timeout(task_id) if machine.has_timeout else None
        name = machine.names[task_id]
        context = TaskContext(self.run_id, name, attempt, {}, self.params, env)
        held = self.inputs.attempt(task_id, name, attempt, config, ExecutionMode.ASYNC, context, timeout)
        self._submit(ChildRunAttempt(self, config), held)

    def cut_short_child(self, task_id: int, attempt: int) -> str | None:
        """The child run to take up for ``attempt`` of a ``workflow`` task, if any.

        Only the first attempt of a resumed run takes one up, and only the child its stored
        history links to the attempt that the crash cut short (recorded as still running).
        A retry after a recorded failure starts a new child.
        """
        resume = self.request.resume
        if resume is None or self.request.retry is not None:
            return None
        name = self.machine.names[task_id]
        link = resume.children.get(name)
        task = resume.tasks.get(name)
        if link is None or task is None or task.status is not TaskStatus.RUNNING:
            return None
        if link.get("attempt") != task.attempts or attempt != task.attempts + 1:
            return None
        child = link.get("run_id")
        return child if isinstance(child, str) else None

    async def record_child(self, task: str, attempt: int, child_id: str) -> None:
        """Record that ``attempt`` of ``task`` runs child ``child_id``, and wait until it is stored.

        Stored before the child writes its first event, so a resumed parent always finds
        the child it had started.
        """
        from flowbuilder.subworkflows import CHILD_RUN_KEY

        writer = self.writer
        writer.emit(EventKind.TASK_ANNOTATED, task, attempt, {CHILD_RUN_KEY: child_id})
        if not writer.threaded:  # memory://: stored by the flush itself
            writer.flush()
            return
        assert self.loop is not None
        stored = _StoredUpTo(writer.seq, self.loop.create_future(), writer.sinks)
        writer.sinks.append(stored)
        try:
            writer.flush()
            channel = writer.channel
            while channel is not None and not stored.future.done():
                if channel.error is not None:
                    raise channel.error
                await asyncio.wait([stored.future], timeout=0.1)  # woken when stored; a store error within 0.1 s
        finally:
            if stored in writer.sinks:
                writer.sinks.remove(stored)

    def _submit(self, executor: AttemptExecutor, attempt: Attempt) -> None:
        task_id = attempt.task_id
        self.inflight[task_id] = (executor, attempt)
        try:
            executor.submit(attempt, self._on_done)
        except KeyboardInterrupt:  # an inline call stopped by Ctrl-C
            self.request_cancel("interrupted while running an inline call")
            if self.inflight.get(task_id, (None, None))[1] is attempt:
                del self.inflight[task_id]
                self.machine.cancelled(task_id, attempt.number)

    def _on_done(self, attempt: Attempt, outcome: AttemptOutcome) -> None:
        """An executor reports the end of an attempt (exactly once; a second report is ignored)."""
        task_id = attempt.task_id
        held = self.inflight.get(task_id)
        if held is None or held[1] is not attempt:
            return
        del self.inflight[task_id]
        kind = outcome.kind
        locks = self.locks
        if locks is not None and locks.lost_reasons:
            lost = locks.lost_reasons.pop(task_id, None)
            if lost is not None and kind != _OUTCOME_SUCCEEDED:  # cancelled (or failed) for losing its lock
                self._failed(task_id, attempt.number, TaskFailure(lost), lost)
                self._wake()
                return
        if kind == _OUTCOME_SUCCEEDED:
            try:
                self.succeeded(task_id, attempt.number, outcome.value)
            except Exception as error:  # raised in an executor's done-callback, the loop would only log it
                self._driver_raises(error)
                return
        elif kind == _OUTCOME_FAILED:
            self._failed(task_id, attempt.number, outcome.failure, outcome.message)
        else:
            self.machine.cancelled(task_id, attempt.number)
        self._wake()

    def _failed(self, task_id: int, attempt: int, failure: TaskFailure | None, message: str) -> None:
        due = self.machine.attempt_failed(task_id, attempt, failure, message)
        if due is not None:
            assert self.loop is not None
            delay = max(0.0, due - self.clock.monotonic())
            self.timers[task_id] = self.loop.call_later(delay, self._retry_due, task_id)

    def _retry_due(self, task_id: int) -> None:
        self.timers.pop(task_id, None)
        self.machine.retry_due(task_id)
        self._wake()

    def _cancel_timers(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    # -- the end ----------------------------------------------------------------------------

    def _timing_summary(self, finished: float) -> Mapping[str, Any]:
        """``run_finished``'s timing: the machine's counters with the writer's store and sink time."""
        writer = self.writer
        return self.machine.timing.summary(finished, writer.stored_seconds, writer.sink_seconds, self.io_in_steps)

    async def _drain(self) -> None:
        """Wait (uncancellably) until every in-flight attempt has reported its end."""
        assert self.loop is not None
        while self.inflight or self.awaited:
            self.wake_future = waiter = self.loop.create_future()
            try:
                await asyncio.shield(waiter)
            except asyncio.CancelledError:
                from flowrunner._process import kill_process_groups

                kill_process_groups(owner=self)
                await asyncio.sleep(0)

    async def _finish_run(self, started_wall: float) -> RunResult:
        if self.control is not None:
            self.control.close()  # nothing is recorded after run_finished
        status = self.machine.finish(None if self.states is None else self.states.failed)
        await self.writer.aclose()
        finished_wall = time.time()
        return RunResult(self.run_id, status, _TaskStates(self), started_wall, finished_wall)


def _context_free_call(task_type: TaskType, config: Any) -> Callable[[], Any] | None:
    """The zero-argument call that runs an attempt of a plain INLINE task of ``task_type``, if the
    type offers one for ``config`` (:meth:`TaskType.context_free_call`, e.g. a ``python`` function
    that does not take ``context``): the hot path then builds no :class:`TaskContext` (its inputs
    mapping and log writer) for an attempt that never reads it. None: the attempt gets a context,
    as always."""
    return task_type.context_free_call(config)


class _StoredUpTo(EventSink):
    """Resolves ``future`` once the run's events up to ``seq`` are stored, then leaves the run's sinks.

    Sinks see a batch only after the store has it (:class:`~flowrunner._event_writer.EventWriter`),
    so this is how :meth:`RunExecution.record_child` waits for its link without sharing the
    store channel's one waiter with the run's own loop.
    """

    def __init__(self, seq: int, future: asyncio.Future[None], sinks: list[EventSink]):
        self.seq = seq
        self.future = future
        self.sinks = sinks

    def handle(self, events: Sequence[RunEvent]) -> None:
        if events and events[-1].seq >= self.seq and not self.future.done():
            self.future.set_result(None)
            if self in self.sinks:
                self.sinks.remove(self)

    def close(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class _TaskStates(Mapping[str, TaskState]):
    """``RunResult.tasks``: each task's :class:`TaskState`, built from the run's lists on access.

    Building 100,000 TaskState objects up front would cost more than the run's dispatching
    of them; callers usually read a few. Iteration order is the plan's task order.

    A task looked up by name is kept, so a second lookup returns the same object. A walk over
    every task (``items()``, ``values()``: the CLI's summary counts the statuses) keeps
    nothing it built: 100,000 kept TaskStates and their index were 18 MB at the very end of a
    run, which set the CLI's peak RSS (bench/memory.py).
    """

    __slots__ = ("_run", "_cache")

    def __init__(self, run: RunExecution):
        self._run = run
        self._cache: dict[str, TaskState] = {}

    def __getitem__(self, name: str) -> TaskState:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        state = self._cache[name] = self._build(name)
        return state

    def peek(self, name: str) -> TaskState:
        """The state of ``name``: the kept one if it was looked up, else a fresh one, not kept."""
        cached = self._cache.get(name)
        return cached if cached is not None else self._build(name)

    def items(self) -> ItemsView[str, TaskState]:
        return _WalkedItems(self)

    def values(self) -> ValuesView[TaskState]:
        return _WalkedValues(self)

    def _build(self, name: str) -> TaskState:
        run = self._run
        machine = run.machine
        task_id = run.plan.index[name]
        state = TaskState(
            status=STATUS[machine.state[task_id]],
            attempts=machine.attempts[task_id],
            output=machine.outputs[task_id],
            error=machine.errors.get(task_id),
            reason=machine.reasons.get(task_id),
            started_at=machine.started_at[task_id],
            finished_at=machine.finished_at[task_id],
        )
        masker = run.masker
        if masker is not None:  # what a run shows of itself hides its secrets, as its events do
            state.output = masker.mask_value(state.output)
            state.error = masker.mask(state.error) if state.error is not None else None
            state.reason = masker.mask(state.reason) if state.reason is not None else None
        return state

    def __iter__(self) -> Iterator[str]:
        return iter(self._run.machine.names)

    def __len__(self) -> int:
        return len(self._run.machine.names)

    def __repr__(self) -> str:
        return f"<{len(self)} task states of run {self._run.run_id}>"


class _WalkedItems(ItemsView[str, TaskState]):
    """``_TaskStates.items()``: each (name, state) without keeping the states it builds."""

    _mapping: _TaskStates

    def __iter__(self) -> Iterator[tuple[str, TaskState]]:
        states = self._mapping
        for name in states:
            yield name, states.peek(name)


class _WalkedValues(ValuesView[TaskState]):
    """``_TaskStates.values()``: each state without keeping the ones it builds."""

    _mapping: _TaskStates

    def __iter__(self) -> Iterator[TaskState]:
        states = self._mapping
        for name in states:
            yield states.peek(name)
