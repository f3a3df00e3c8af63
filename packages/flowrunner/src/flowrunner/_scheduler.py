"""One run of a plan: the in-degree countdown, the ready queue, limits, retries, events.

State lives in flat lists indexed by the plan's dense task ids. A task becomes ready when
its count of unfinished dependencies reaches zero; a failed or skipped task marks its whole
downstream skipped at once (with the reason), so a countdown that reaches zero always means
"every dependency succeeded".

The ready queue is one binary heap per pool (just one when the workflow has no pools). A
heap key is ``(-(priority - retries * RETRY_PENALTY + ageing), -remaining_path, fifo)``.
Ageing grows at the same rate for every waiting task, so "score grows while it waits" is the
same order as "earlier enqueue wins at equal priority": the key is computed once at
enqueue (``-seconds_since_start / AGEING_SECONDS``) and never needs re-sorting.

Attempts of INLINE task types run right here, on the scheduler's thread, with no task or
thread hop; ASYNC attempts become asyncio tasks; THREAD attempts go to the runner's pool of
threads, PROCESS attempts to its pool of worker processes. Completions are handled in done-callbacks (they update the lists and push
newly ready tasks); the main loop only dispatches, flushes the event batch and sleeps.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import time
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from flowbuilder.events import EventKind, RunEvent, RunStatus, TaskState, TaskStatus
from flowbuilder.interfaces import ExecutionMode, LogLine, RunResult, TaskContext, TaskFailure
from flowbuilder.secrets import SecretMasker, masked_params, masker_for, secret_param_values
from flowrunner._control import RunControl, start_control
from flowrunner._event_writer import FLUSH_EVERY, EventWriter
from flowrunner._outputs import OutputBudget, is_table_reference, restored_output, storable_output
from flowrunner._retry import matches_retry_on, retry_delay
from flowrunner._scope import TaskResultsView, render_workflow_env

if TYPE_CHECKING:
    from flowbuilder.interfaces import RunRequest, TaskType
    from flowbuilder.model import RetryPolicy
    from flowrunner.runner import LocalRunner

PENDING, READY, RUNNING, RETRY_WAIT, SUCCEEDED, FAILED, SKIPPED, CANCELLED = range(8)
_STATUS = (TaskStatus.PENDING, TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.RETRYING,
           TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED)  # fmt: skip
_PLAIN_TYPES = frozenset({type(None), str, int, float, bool, dict, list})

AGEING_SECONDS = 1.0
"""A waiting task gains one priority point per this many seconds (so nothing starves)."""
RETRY_PENALTY = 1.0
"""Priority points a task loses per failed attempt (retries yield to fresh work)."""

_INLINE = ExecutionMode.INLINE
_PROCESS = ExecutionMode.PROCESS
_THREAD = ExecutionMode.THREAD
_STARTED = EventKind.TASK_STARTED
_SUCCEEDED = EventKind.TASK_SUCCEEDED


class _AttemptLog:
    """The ``log(stream, line)`` callable of one attempt: appends to the run's log batch."""

    __slots__ = ("writer", "task", "attempt")

    def __init__(self, writer: EventWriter, task: str, attempt: int):
        self.writer = writer
        self.task = task
        self.attempt = attempt

    def __call__(self, stream: str, line: str) -> None:
        self.writer.logs.append(LogLine(self.task, self.attempt, stream, line))


class RunExecution:
    """Executes one :class:`RunRequest` on the running event loop (use once)."""

    def __init__(self, runner: LocalRunner, request: RunRequest, cancel: asyncio.Event | None):
        plan = request.plan
        workflow = plan.workflow
        self.runner = runner
        self.request = request
        self.plan = plan
        self.workflow = workflow
        self.tasks = workflow.tasks
        self.names = plan.names
        self.cancel_event = cancel
        resume = request.resume
        self.run_id = request.run_id or (resume.run_id if resume is not None else uuid.uuid4().hex)
        count = len(plan)
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
        self.params: Mapping[str, Any] = dict(request.params)
        try:
            self.types: list[TaskType] = [runner.task_types[task.type] for task in self.tasks]
        except KeyError as missing:
            from flowbuilder.errors import ConfigurationError

            raise ConfigurationError(f"task type {missing.args[0]!r} is not available to this runner") from None
        self.limit = request.concurrency or workflow.concurrency or runner.default_concurrency
        self.output_budget = OutputBudget(runner.max_output_bytes, runner.max_run_output_bytes)
        defaults = workflow.defaults
        self.pool_limits: dict[str, int] = dict(workflow.pools)
        # Per-type default limits act as implicit pools ("type:shell") for tasks without a pool.
        type_limits = {name: limit for name, limit in runner.type_limits.items() if limit}
        for name, limit in type_limits.items():
            self.pool_limits[f"type:{name}"] = limit
        self.pool_of: list[str | None] | None = (
            [
                task.pool or defaults.pool or (f"type:{task.type}" if task.type in type_limits else None)
                for task in self.tasks
            ]
            if self.pool_limits
            else None
        )
        self.pool_used: dict[str | None, int] = {name: 0 for name in self.pool_limits}
        self.heaps: dict[str | None, list[tuple[float, float, int, int]]] = {None: []}
        for name in self.pool_limits:
            self.heaps[name] = []
        self.ready = self.heaps[None]
        self.fifo = itertools.count()
        self.running = 0
        self.inflight: dict[int, asyncio.Task[Any]] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.stopping = False
        self.stop_reason: str | None = None
        self.cancel_requested = False
        self.paused = False
        self.control: RunControl | None = None
        self.any_failed = False
        self.wake_future: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started_monotonic = time.monotonic()
        self.results_view = TaskResultsView(plan.index, self._task_result)
        self.static_env: dict[int, dict[str, str]] = {}
        self.secrets: Mapping[str, str] = request.secrets
        masker = masker_for(request.secrets, secret_param_values(workflow, self.params))
        self.masker: SecretMasker | None = masker if masker else None
        self.workflow_env: dict[str, str] = render_workflow_env(workflow.env, self.params, self.secrets)
        self.plain_env: list[dict[str, str] | None] = [None if task.env else self.workflow_env for task in self.tasks]
        # Per-task facts the hot path reads from flat lists instead of recomputing.
        expression_tasks = plan.expression_tasks
        default_priority = defaults.priority or 0
        self.plain = [
            task_id not in expression_tasks and task.foreach is None for task_id, task in enumerate(self.tasks)
        ]
        self.base_priority = [task.priority if task.priority is not None else default_priority for task in self.tasks]
        self.modes: list[ExecutionMode | None] = [None] * count
        # task_started carries the task's type; one shared (never mutated) mapping per type.
        shared_data = {name: {"type": name} for name in {task.type for task in self.tasks}}
        self.type_data: list[Mapping[str, Any]] = [shared_data[task.type] for task in self.tasks]
        self.has_timeout = defaults.timeout is not None or any(
            task.timeout is not None or task.deadline is not None for task in self.tasks)  # fmt: skip
        start_seq = 0
        if resume is not None:
            store = request.store
            start_seq = store.last_seq(self.run_id) if store is not None else resume.seq
        self.writer = EventWriter(self.run_id, request.store, request.sinks, start_seq, keep=runner.keep_events,
                                  masker=self.masker, wake=self._wake)  # fmt: skip

    # -- the main loop ----------------------------------------------------------------------

    async def execute(self) -> RunResult:
        from flowrunner._process import RUN_OWNER

        owner_token = RUN_OWNER.set(self)  # the attempts' tasks inherit it: processes know their run
        try:
            return await self._execute()
        finally:
            RUN_OWNER.reset(owner_token)

    async def _execute(self) -> RunResult:
        self.loop = loop = asyncio.get_running_loop()
        started_wall = time.time()
        resume = self.request.resume
        self.control = await start_control(self, resume.control_seen if resume is not None else 0)
        self._open_run()
        watcher = loop.create_task(self._watch_cancel()) if self.cancel_event is not None else None
        writer = self.writer
        try:
            while True:
                self._pump()
                writer.flush()
                if not self.inflight and not self.timers and (self.stopping or not self._has_ready()):
                    break
                if writer.backlogged:  # the store is behind: this run waits for it, the loop does not
                    await writer.wait_for_room()
                    continue
                self.wake_future = loop.create_future()
                await self.wake_future
        except asyncio.CancelledError:
            # The caller cancelled run_async itself: clean up like a cancel request, then re-raise.
            self._request_cancel("the run's asyncio task was cancelled")
            await self._drain()
            await self._finish_run(started_wall)
            raise
        except BaseException:
            # A store or sink failure (or a bug): stop what this run started before reporting it.
            writer.abandon()
            self.stopping = True
            for timer in self.timers.values():
                timer.cancel()
            self.timers.clear()
            for job in list(self.inflight.values()):
                job.cancel()
            await self._drain()
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
            if self.control is not None:
                self.control.close()
        return await self._finish_run(started_wall)

    def _open_run(self) -> None:
        writer = self.writer
        request = self.request
        workflow = self.workflow
        resume = request.resume
        if resume is None:
            writer.emit(EventKind.RUN_CREATED, data={
                "workflow": workflow.name, "version": workflow.version,
                "definition_hash": request.definition_hash, "params": masked_params(workflow, self.params)})  # fmt: skip
            writer.emit(EventKind.RUN_STARTED, data={"runner": self.runner.name, "resumed": False})
            roots: Sequence[int] = self.plan.roots()
        else:
            writer.emit(EventKind.RUN_STARTED, data={"runner": self.runner.name, "resumed": True})
            roots = self._restore(resume)
        for task_id in roots:
            if self.state[task_id] == PENDING:
                self._make_ready(task_id)

    def _restore(self, resume: Any) -> list[int]:
        """Take succeeded tasks from a stored run; everything else runs (again).

        A task that runs again continues its attempt numbers (the attempt a crash cut short
        counts as one) and its clock starts at its first attempt in this process, so neither
        its duration nor its deadline includes the time the run was down. Tables that
        succeeded tasks stored are read back for the tasks that still need them.
        """
        index = self.plan.index
        tables: list[int] = []
        for name, task_state in resume.tasks.items():
            task_id = index.get(name)
            if task_id is None:
                continue
            self.attempts[task_id] = task_state.attempts
            if task_state.status is not TaskStatus.SUCCEEDED:
                continue
            self.state[task_id] = SUCCEEDED
            self.outputs[task_id] = task_state.output
            if task_state.started_at is not None:
                self.started_at[task_id] = task_state.started_at
            if task_state.finished_at is not None:
                self.finished_at[task_id] = task_state.finished_at
            if is_table_reference(task_state.output):
                tables.append(task_id)
        if tables:
            self._restore_tables(tables)
        for task_id in range(len(self.state)):
            if self.state[task_id] == SUCCEEDED and self.tasks[task_id].outputs:
                try:
                    self.named_outputs[task_id] = self._evaluate_outputs(task_id, self.outputs[task_id])
                except Exception:  # a dependent reading them reports the undefined name itself
                    pass
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

    def _restore_tables(self, tables: list[int]) -> None:
        """Read back the stored tables of ``tables`` that a task still to run depends on.

        Expressions may only read upstream tasks, so only ancestors of unfinished tasks can
        need a table; the others stay references and cost no read.
        """
        store = self.request.store
        if store is None:
            return
        predecessors = self.plan.predecessors
        needed = [False] * len(self.state)
        stack = [task_id for task_id, state in enumerate(self.state) if state != SUCCEEDED]
        while stack:
            for upstream in predecessors[stack.pop()]:
                if not needed[upstream]:
                    needed[upstream] = True
                    stack.append(upstream)
        for task_id in tables:
            if needed[task_id]:
                self.outputs[task_id] = restored_output(store, self.names[task_id], self.outputs[task_id])

    async def _watch_cancel(self) -> None:
        assert self.cancel_event is not None
        while True:
            await self.cancel_event.wait()
            self._request_cancel("cancel requested")
            self.cancel_event.clear()

    def _wake(self) -> None:
        future = self.wake_future
        if future is not None and not future.done():
            future.set_result(None)

    def _has_ready(self) -> bool:
        if self.pool_of is None:
            return bool(self.ready)
        return any(self.heaps.values())

    # -- the ready queue --------------------------------------------------------------------

    def _make_ready(self, task_id: int) -> None:
        """All dependencies succeeded: check ``when``, then enqueue."""
        task = self.tasks[task_id]
        if task.when is not None:
            try:
                from flowbuilder.expressions import is_truthy, render

                passed = is_truthy(render(task.when, self._scope(task_id)))
            except Exception as error:
                self._fail_final(task_id, 0, f"when condition failed: {error}", {})
                return
            if not passed:
                self._skip(task_id, f"when condition is false: {task.when}")
                return
        self._enqueue(task_id)

    def _enqueue(self, task_id: int) -> None:
        self.state[task_id] = READY
        score = self.base_priority[task_id] - self.attempts[task_id] * RETRY_PENALTY
        score += int((time.monotonic() - self.started_monotonic) / AGEING_SECONDS) * -1.0
        entry = (-score, -self.plan.remaining_path[task_id], next(self.fifo), task_id)
        if self.pool_of is None:
            heapq.heappush(self.ready, entry)
        else:
            heapq.heappush(self.heaps[self.pool_of[task_id]], entry)

    def _pop_ready(self) -> int | None:
        if self.pool_of is None:
            return heapq.heappop(self.ready)[3] if self.ready else None
        best: list[tuple[float, float, int, int]] | None = None
        for pool, heap in self.heaps.items():
            if not heap or (pool is not None and self.pool_used[pool] >= self.pool_limits[pool]):
                continue
            if best is None or heap[0] < best[0]:
                best = heap
        return heapq.heappop(best)[3] if best is not None else None

    def _pump(self) -> None:
        """Start ready tasks while slots are free (flushing events every FLUSH_EVERY of them)."""
        limit = self.limit
        pending = self.writer.pending
        while self.running < limit and not self.stopping and not self.paused:
            if len(pending) >= FLUSH_EVERY:
                self.writer.flush()
                pending = self.writer.pending
                if self.writer.backlogged:  # the main loop waits for the store before starting more
                    return
            if self.pool_of is None:
                if not self.ready:
                    return
                task_id = heapq.heappop(self.ready)[3]
            else:
                found = self._pop_ready()
                if found is None:
                    return
                task_id = found
            self._start(task_id)

    # -- attempts ---------------------------------------------------------------------------

    def _env(self, task_id: int, scope: Mapping[str, Any] | None) -> dict[str, str]:
        env = self.static_env.get(task_id)
        if env is not None:
            return env
        task = self.tasks[task_id]
        if not task.env and scope is None:
            env = self.static_env[task_id] = self.workflow_env  # shared: tasks never mutate it
            return env
        if scope is not None:
            from flowbuilder.expressions import as_text, render

            # The workflow's part is rendered already (once per run): rendering it again
            # would evaluate any `${{` that a param's value happens to contain.
            own = {key: as_text(render(value, scope)) for key, value in task.env.items()}
            return {**self.workflow_env, **own}
        merged = self.static_env[task_id] = {**self.workflow_env, **task.env}
        return merged

    def _scope(self, task_id: int, item: Any = None, has_item: bool = False) -> dict[str, Any]:
        task = self.tasks[task_id]
        env: Mapping[str, str] = self.workflow_env
        if task.env:
            own: Mapping[str, str] = task.env
            if any("${{" in value for value in own.values()):
                from flowbuilder.expressions import as_text, render

                base = {"params": self.params, "env": {}, "tasks": self.results_view, "secrets": self.secrets}
                own = {key: as_text(render(value, base)) for key, value in own.items()}
            env = {**env, **own}
        scope: dict[str, Any] = {"params": self.params, "env": env, "tasks": self.results_view, "secrets": self.secrets}
        if has_item:
            scope["item"] = item
        return scope

    def _task_result(self, task_id: int) -> Mapping[str, Any]:
        return {
            "output": self.outputs[task_id],
            "outputs": self.named_outputs.get(task_id, {}),
            "status": _STATUS[self.state[task_id]].value,
        }

    def _config(self, task_id: int, scope: Mapping[str, Any] | None) -> Any:
        """The validated config of an attempt (rendered first when the task has expressions)."""
        if scope is None:
            return self.plan.configs[task_id]
        from pydantic import ValidationError

        task_type = self.types[task_id]
        raw = self.tasks[task_id].config
        rendered = task_type.render_config(raw, scope)
        try:
            return task_type.config_model.model_validate(rendered)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(step) for step in first["loc"]) or "config"
            raise TaskFailure(
                f"config after expressions is invalid at {where}: {first['msg']}", retryable=False
            ) from None

    def _start(self, task_id: int) -> None:
        attempt = self.attempts[task_id] = self.attempts[task_id] + 1
        name = self.names[task_id]
        if self.started_at[task_id] is None:  # its first attempt here (a resumed task's may be 2 or more)
            self.started_at[task_id] = time.time()
        self.state[task_id] = RUNNING
        writer = self.writer  # emit() inlined: this is the hottest line of the scheduler
        seq = writer.seq = writer.seq + 1
        writer.pending.append(RunEvent(self.run_id, seq, _STARTED, name, attempt, self.type_data[task_id], time.time()))
        task_type = self.types[task_id]
        if self.plain[task_id]:
            # The hot path: a static config, no expressions, no fan-out.
            config = self.plan.configs[task_id]
            env = self.plain_env[task_id]
            if env is None:
                env = self.plain_env[task_id] = self._env(task_id, None)
            mode = self.modes[task_id]
            if mode is None:
                mode = self.modes[task_id] = task_type.execution_mode(config)
        else:
            try:
                scope = self._scope(task_id)
                if self.tasks[task_id].foreach is not None:
                    self._deadline_from_first_start(task_id)
                    self._launch(task_id, attempt, self._run_foreach(task_id, scope), None)
                    return
                config = self._config(task_id, scope)
                env = self._env(task_id, scope)
                mode = task_type.execution_mode(config)
            except TaskFailure as failure:
                self._attempt_failed(task_id, attempt, failure, str(failure))
                return
            except Exception as error:
                self._attempt_failed(task_id, attempt, TaskFailure(str(error), retryable=False), str(error))
                return
        timeout = None
        deadline = None
        if self.has_timeout:
            now = self._deadline_from_first_start(task_id)
            timeout = self._attempt_timeout(task_id, now)
            if timeout is not None:
                deadline = now + timeout
        predecessors = self.plan.predecessors[task_id]
        outputs = self.outputs
        names = self.names
        context = TaskContext(
            self.run_id, name, attempt,
            {names[p]: outputs[p] for p in predecessors} if predecessors else {},
            self.params, env, None, deadline,
            _AttemptLog(self.writer, name, attempt),
        )  # fmt: skip
        if mode is _INLINE:
            try:
                result = task_type.run(config, context)
            except TaskFailure as failure:
                self._attempt_failed(task_id, attempt, failure, str(failure))
                return
            except Exception as error:
                self._attempt_failed(task_id, attempt, None, f"{type(error).__name__}: {error}")
                return
            except KeyboardInterrupt:  # Ctrl-C (or the CLI's nudge) stopped a call that would not return
                self._request_cancel("interrupted while running an inline call")
                self._cancelled(task_id, attempt)
                return
            if result is None or type(result) in _PLAIN_TYPES or not inspect.isawaitable(result):
                self._succeeded(task_id, attempt, result)
                return
            self._launch(task_id, attempt, _await(result), timeout)
            return
        if mode is _PROCESS:
            self._launch(task_id, attempt, self.runner.call_in_process(task_type, config, context), timeout)
        elif mode is _THREAD:
            self._launch(task_id, attempt, self.runner.call_in_thread(task_type, config, context), timeout)
        else:
            self._launch(task_id, attempt, _call_async(task_type, config, context), timeout)

    def _deadline_from_first_start(self, task_id: int) -> float:
        """Start the task's overall deadline clock at its first attempt here; return now (monotonic)."""
        now = time.monotonic()
        deadline = self.tasks[task_id].deadline
        if deadline is not None and task_id not in self.deadline_at:
            self.deadline_at[task_id] = now + deadline
        return now

    def _attempt_timeout(self, task_id: int, now: float) -> float | None:
        task = self.tasks[task_id]
        timeout = task.timeout if task.timeout is not None else self.workflow.defaults.timeout
        deadline = self.deadline_at.get(task_id)
        if deadline is not None:
            left = max(0.0, deadline - now)
            timeout = left if timeout is None else min(timeout, left)
        return timeout

    def _launch(self, task_id: int, attempt: int, coroutine: Any, timeout: float | None) -> None:
        assert self.loop is not None
        if timeout is not None:
            coroutine = _with_timeout(coroutine, timeout)
        job = self.loop.create_task(coroutine)
        self.inflight[task_id] = job
        self.running += 1
        if self.pool_of is not None:
            pool = self.pool_of[task_id]
            if pool is not None:
                self.pool_used[pool] += 1
        job.add_done_callback(partial(self._on_done, task_id, attempt))

    def _on_done(self, task_id: int, attempt: int, job: asyncio.Task[Any]) -> None:
        self.inflight.pop(task_id, None)
        self.running -= 1
        if self.pool_of is not None:
            pool = self.pool_of[task_id]
            if pool is not None:
                self.pool_used[pool] -= 1
        if job.cancelled():
            self._cancelled(task_id, attempt)
        else:
            error = job.exception()
            if error is None:
                self._succeeded(task_id, attempt, job.result())
            elif isinstance(error, TaskFailure):
                self._attempt_failed(task_id, attempt, error, str(error))
            else:
                self._attempt_failed(task_id, attempt, None, f"{type(error).__name__}: {error}")
        self._wake()

    # -- outcomes ---------------------------------------------------------------------------

    def _succeeded(self, task_id: int, attempt: int, output: Any) -> None:
        refusal = self.output_budget.refusal(output)
        if refusal is not None:
            self._fail_final(task_id, attempt, refusal, {})
            return
        task = self.tasks[task_id]
        name = self.names[task_id]
        data: dict[str, Any]
        if not task.outputs:
            data = {"output": output if type(output) in _PLAIN_TYPES else storable_output(self, name, output)}
        else:
            try:
                named = self.named_outputs[task_id] = self._evaluate_outputs(task_id, output)
            except Exception as error:
                self._fail_final(task_id, attempt, f"outputs: {error}", {})
                return
            data = {"output": storable_output(self, name, output), "outputs": named}
        self.outputs[task_id] = output
        self.state[task_id] = SUCCEEDED
        self.finished_at[task_id] = finished = time.time()
        data["duration"] = finished - (self.started_at[task_id] or finished)
        writer = self.writer
        seq = writer.seq = writer.seq + 1
        writer.pending.append(RunEvent(self.run_id, seq, _SUCCEEDED, name, attempt, data, finished))
        waiting = self.waiting
        state = self.state
        successors = self.plan.successors[task_id]
        if not successors or self.stopping:
            for successor in successors:
                waiting[successor] -= 1
            return
        if self.pool_of is None:
            # Inline enqueue of dependents without `when` (the common case), same key as _enqueue.
            tasks = self.tasks
            heap = self.ready
            remaining = self.plan.remaining_path
            base = self.base_priority
            attempts = self.attempts
            fifo = self.fifo
            ageing = float(int((time.monotonic() - self.started_monotonic) / AGEING_SECONDS))
            push = heapq.heappush
            for successor in successors:
                left = waiting[successor] = waiting[successor] - 1
                if left == 0 and state[successor] == PENDING:
                    if tasks[successor].when is not None:
                        self._make_ready(successor)
                        continue
                    state[successor] = READY
                    score = base[successor] - attempts[successor] * RETRY_PENALTY - ageing
                    push(heap, (-score, -remaining[successor], next(fifo), successor))
            return
        for successor in successors:
            left = waiting[successor] = waiting[successor] - 1
            if left == 0 and state[successor] == PENDING:
                self._make_ready(successor)

    def _evaluate_outputs(self, task_id: int, output: Any) -> dict[str, Any]:
        from flowbuilder.expressions import render

        scope = self._scope(task_id)
        scope["output"] = output
        return {key: render(value, scope) for key, value in self.tasks[task_id].outputs.items()}

    def _retry_policy(self, task_id: int) -> RetryPolicy | None:
        task = self.tasks[task_id]
        return task.retry if task.retry is not None else self.workflow.defaults.retry

    def _attempt_failed(self, task_id: int, attempt: int, failure: TaskFailure | None, message: str) -> None:
        name = self.names[task_id]
        now = time.time()
        data: dict[str, Any] = {"error": message, "duration": now - (self.started_at[task_id] or now)}
        if failure is not None:
            if failure.exit_code is not None:
                data["exit_code"] = failure.exit_code
            if failure.status is not None:
                data["status"] = failure.status
            if failure.timed_out:
                data["timed_out"] = True
        policy = self._retry_policy(task_id)
        if policy is not None and attempt < policy.attempts and matches_retry_on(policy.retry_on, failure):
            if self.stopping:
                # Say why the policy did not apply, or a stopped run's failure reads as a bug.
                message = data["error"] = f"{message} (not retried: {self.stop_reason})"
                self._fail_final(task_id, attempt, message, data)
                return
            delay = retry_delay(policy, attempt)
            deadline = self.deadline_at.get(task_id)
            if deadline is None or time.monotonic() + delay < deadline:
                # A retried attempt emits only task_retrying (with the error); task_failed is final.
                data["delay"] = delay
                self.writer.emit(EventKind.TASK_RETRYING, name, attempt, data)
                self.state[task_id] = RETRY_WAIT
                assert self.loop is not None
                self.timers[task_id] = self.loop.call_later(delay, self._retry_due, task_id)
                return
            message = f"{message} (deadline reached, not retried)"
            data["error"] = message
        self._fail_final(task_id, attempt, message, data)

    def _retry_due(self, task_id: int) -> None:
        self.timers.pop(task_id, None)
        if self.stopping:
            self._fail_final(task_id, self.attempts[task_id], f"not retried: {self.stop_reason}", {})
        else:
            self._enqueue(task_id)
        self._wake()

    def _fail_final(self, task_id: int, attempt: int, message: str, data: dict[str, Any]) -> None:
        name = self.names[task_id]
        data = dict(data)
        data.setdefault("error", message)
        data["final"] = True
        self.state[task_id] = FAILED
        self.errors[task_id] = data["error"]
        self.finished_at[task_id] = time.time()
        self.any_failed = True
        self.writer.emit(EventKind.TASK_FAILED, name, attempt, data)
        self._skip_downstream(task_id, f"dependency {name!r} failed")
        task = self.tasks[task_id]
        policy = task.on_failure or self.workflow.defaults.on_failure or self.workflow.on_failure
        if policy == "stop" and not self.stopping:
            self._stop(f"run stopped: task {name!r} failed")

    def _skip(self, task_id: int, reason: str) -> None:
        self.state[task_id] = SKIPPED
        self.reasons[task_id] = reason
        self.finished_at[task_id] = time.time()
        self.writer.emit(EventKind.TASK_SKIPPED, self.names[task_id], 0, {"reason": reason})
        self._skip_downstream(task_id, f"dependency {self.names[task_id]!r} was skipped")

    def _skip_downstream(self, task_id: int, reason: str) -> None:
        """Skip every not-yet-started task below ``task_id`` (a countdown there can never finish)."""
        state = self.state
        successors = self.plan.successors
        names = self.names
        stack = [(s, reason) for s in successors[task_id]]
        while stack:
            current, why = stack.pop()
            if state[current] != PENDING:
                continue
            state[current] = SKIPPED
            self.reasons[current] = why
            self.finished_at[current] = time.time()
            self.writer.emit(EventKind.TASK_SKIPPED, names[current], 0, {"reason": why})
            below = f"dependency {names[current]!r} was skipped"
            stack.extend((s, below) for s in successors[current])

    def _cancelled(self, task_id: int, attempt: int) -> None:
        self.state[task_id] = CANCELLED
        self.finished_at[task_id] = time.time()
        self.writer.emit(
            EventKind.TASK_CANCELLED, self.names[task_id], attempt, {"reason": self.stop_reason or "cancelled"}
        )
        self._skip_downstream(task_id, f"dependency {self.names[task_id]!r} was cancelled")

    # -- stopping ---------------------------------------------------------------------------

    def _stop(self, reason: str) -> None:
        """No new dispatches; running attempts finish; waiting retries are not retried."""
        self.stopping = True
        self.stop_reason = reason
        for task_id, timer in list(self.timers.items()):
            timer.cancel()
            del self.timers[task_id]
            self._fail_final(task_id, self.attempts[task_id], f"not retried: {reason}", {})
        self._wake()

    def pause(self, details: Mapping[str, Any] | None = None) -> None:
        """Start no new attempts (running ones go on) until :meth:`unpause`; recorded as ``run_paused``."""
        self.paused = True
        self.writer.emit(EventKind.RUN_PAUSED, data=dict(details or {}))
        self._wake()

    def unpause(self, details: Mapping[str, Any] | None = None) -> None:
        """Start attempts again after :meth:`pause`; recorded as ``run_unpaused``."""
        self.paused = False
        self.writer.emit(EventKind.RUN_UNPAUSED, data=dict(details or {}))
        self._wake()

    def _request_cancel(self, reason: str, details: Mapping[str, Any] | None = None) -> None:
        if self.cancel_requested:
            # A second request: whatever is still shutting down is killed now.
            from flowrunner._process import kill_process_groups

            kill_process_groups(owner=self)
            return
        self.cancel_requested = True
        self.stopping = True
        self.stop_reason = f"run cancelled: {reason}"
        self.writer.emit(EventKind.RUN_CANCEL_REQUESTED, data={**(details or {}), "reason": reason})
        for task_id, timer in list(self.timers.items()):
            timer.cancel()
            del self.timers[task_id]
            self._cancelled(task_id, self.attempts[task_id])
        for job in list(self.inflight.values()):
            job.cancel()
        self._wake()

    async def _drain(self) -> None:
        """Wait (uncancellably) until every in-flight attempt has released what it holds."""
        while self.inflight:
            jobs = list(self.inflight.values())
            try:
                await asyncio.shield(asyncio.wait(jobs))
            except asyncio.CancelledError:
                from flowrunner._process import kill_process_groups

                kill_process_groups(owner=self)
            await asyncio.sleep(0)

    async def _finish_run(self, started_wall: float) -> RunResult:
        if self.control is not None:
            self.control.close()  # nothing is recorded after run_finished
        state = self.state
        reason = self.stop_reason or "not reached"
        for task_id in range(len(state)):
            if state[task_id] in (PENDING, READY):
                state[task_id] = SKIPPED
                self.reasons[task_id] = reason
                self.finished_at[task_id] = time.time()
                self.writer.emit(EventKind.TASK_SKIPPED, self.names[task_id], 0, {"reason": reason})
        if self.cancel_requested:
            status = RunStatus.CANCELLED
        elif self.any_failed:
            status = RunStatus.FAILED
        else:
            status = RunStatus.SUCCEEDED
        self.writer.emit(EventKind.RUN_FINISHED, data={"status": status.value})
        await self.writer.aclose()
        finished_wall = time.time()
        tasks = _TaskStates(self)
        return RunResult(self.run_id, status, tasks, started_wall, finished_wall)

    # -- foreach ----------------------------------------------------------------------------

    async def _run_foreach(self, task_id: int, scope: dict[str, Any]) -> list[Any]:
        """Run one attempt per item (each with the task's retries); the output is the list of results.

        Items run at most ``max_parallel`` at a time (default: the run's concurrency). The
        first item that fails for good cancels the others and fails the task; the task as a
        whole is not retried again (its items already were).
        """
        from flowbuilder.expressions import render

        task = self.tasks[task_id]
        fanout = task.fanout
        assert fanout is not None
        items = render(fanout.items, scope) if isinstance(fanout.items, str) else fanout.items
        if not isinstance(items, (list, tuple)):
            raise TaskFailure(f"foreach items must be a list, got {type(items).__name__}", retryable=False)
        results: list[Any] = [None] * len(items)
        gate = asyncio.Semaphore(fanout.max_parallel or self.limit)
        policy = self._retry_policy(task_id)
        attempts = policy.attempts if policy is not None else 1
        name = self.names[task_id]
        task_type = self.types[task_id]

        async def run_item(position: int, item: Any) -> None:
            async with gate:
                for attempt in range(1, attempts + 1):
                    item_scope = {**scope, "item": item}
                    log = _AttemptLog(self.writer, f"{name}[{position}]", attempt)
                    try:
                        config = self._config(task_id, item_scope)
                        now = time.monotonic()
                        timeout = self._attempt_timeout(task_id, now)
                        context = TaskContext(self.run_id, name, attempt,
                                              {self.names[p]: self.outputs[p] for p in self.plan.predecessors[task_id]},
                                              self.params, self._env(task_id, item_scope), item,
                                              now + timeout if timeout is not None else None, log)  # fmt: skip
                        mode = task_type.execution_mode(config)
                        if mode is _PROCESS:
                            call = self.runner.call_in_process(task_type, config, context)
                        elif mode is _THREAD:
                            call = self.runner.call_in_thread(task_type, config, context)
                        else:
                            call = _call_async(task_type, config, context)
                        results[position] = await (_with_timeout(call, timeout) if timeout is not None else call)
                        return
                    except TaskFailure as failure:
                        error: TaskFailure | None = failure
                        message = str(failure)
                    except Exception as other:
                        error, message = None, f"{type(other).__name__}: {other}"
                    log("system", f"item {position} attempt {attempt} failed: {message}")
                    retry = attempt < attempts and policy is not None and matches_retry_on(policy.retry_on, error)
                    if retry and not self.stopping:
                        assert policy is not None
                        await asyncio.sleep(retry_delay(policy, attempt))
                    if retry and self.stopping:  # stopped before or while waiting: say so
                        message, retry = f"{message} (not retried: {self.stop_reason})", False
                    if not retry:
                        raise TaskFailure(f"item {position} ({item!r}) failed: {message}", retryable=False,
                                          exit_code=getattr(error, "exit_code", None), status=getattr(error, "status", None),
                                          timed_out=getattr(error, "timed_out", False))  # fmt: skip

        try:
            async with asyncio.TaskGroup() as group:
                for position, item in enumerate(items):
                    group.create_task(run_item(position, item))
        except BaseExceptionGroup as group_error:
            first = group_error.exceptions[0]
            raise first from None
        return results


class _TaskStates(Mapping[str, TaskState]):
    """``RunResult.tasks``: each task's :class:`TaskState`, built from the run's lists on access.

    Building 100,000 TaskState objects up front would cost more than the run's dispatching
    of them; callers usually read a few. Iteration order is the plan's task order.
    """

    __slots__ = ("_run", "_cache")

    def __init__(self, run: RunExecution):
        self._run = run
        self._cache: dict[str, TaskState] = {}

    def __getitem__(self, name: str) -> TaskState:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        run = self._run
        task_id = run.plan.index[name]
        state = self._cache[name] = TaskState(
            status=_STATUS[run.state[task_id]],
            attempts=run.attempts[task_id],
            output=run.outputs[task_id],
            error=run.errors.get(task_id),
            reason=run.reasons.get(task_id),
            started_at=run.started_at[task_id],
            finished_at=run.finished_at[task_id],
        )
        masker = run.masker
        if masker is not None:  # what a run shows of itself hides its secrets, as its events do
            state.output = masker.mask_value(state.output)
            state.error = masker.mask(state.error) if state.error is not None else None
            state.reason = masker.mask(state.reason) if state.reason is not None else None
        return state

    def __iter__(self) -> Iterator[str]:
        return iter(self._run.names)

    def __len__(self) -> int:
        return len(self._run.names)

    def __repr__(self) -> str:
        return f"<{len(self)} task states of run {self._run.run_id}>"


async def _call_async(task_type: TaskType, config: Any, context: TaskContext) -> Any:
    result = task_type.run(config, context)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _with_timeout(coroutine: Any, timeout: float) -> Any:
    """Run ``coroutine`` with a limit; a timeout becomes a ``TaskFailure(timed_out=True)``."""
    try:
        async with asyncio.timeout(timeout):
            return await coroutine
    except TimeoutError:
        raise TaskFailure(f"timed out after {timeout:g}s", timed_out=True) from None
