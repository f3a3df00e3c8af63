"""The ``local`` runner: executes plans in this process (and its worker processes).

One :class:`LocalRunner` can execute many runs at once on one event loop; each run is a
:class:`~flowrunner._scheduler.RunExecution` (the asyncio driver) over a
:class:`~flowrunner.scheduling.RunStateMachine` with its own flat state lists. Attempts run
through the runner's :attr:`LocalRunner.executors`, one per execution mode
(:mod:`flowrunner.executors`), or through the executor it was given. CPU-bound
``python`` tasks with ``isolation: process`` go to a pool of worker processes owned by the
runner and created on first use; THREAD attempts (``isolation: thread``) to the process's
growing pool of daemon threads (:mod:`flowrunner._daemon_threads`), never to asyncio's small
default executor.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from flowbuilder.interfaces import Runner, RunRequest, RunResult
from flowbuilder.plugins import declared
from flowrunner._log_handoff import hand_lines_to_loop
from flowrunner._outputs import DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MAX_RUN_OUTPUT_BYTES, byte_count

if TYPE_CHECKING:
    from flowbuilder.config import Settings
    from flowbuilder.interfaces import AttemptExecutor, ExecutionMode, TaskContext, TaskType
    from flowbuilder.interfaces.tasktype import LogWriter
    from flowrunner._workers import WorkerPool

DEFAULT_CONCURRENCY = 64
"""Tasks at once when neither the request, the workflow nor the runner says otherwise."""
SETTINGS_SECTION = "flowrunner"
"""The table of ``flowbuilder.toml`` (and ``FLOWBUILDER_FLOWRUNNER__*``) read by :meth:`LocalRunner.from_settings`."""


def _kill_leftovers(run_id: str) -> None:
    """Kill task processes a dead runner left of this run (Linux: found by their attempt tag).

    The dead runner's guardian normally did this already; this covers a guardian that died
    with it. Processes this runner started itself are never touched, nor those of a runner
    still alive: a second resume or retry of the run, started while another process runs
    it, killed that process's live attempts (it is then refused by the store at its first
    append, but the attempts were gone).
    """
    if os.path.isdir("/proc"):
        from flowrunner._guardian import kill_tagged

        kill_tagged(f":{run_id}:".encode(), skip_prefix=f"{os.getpid()}:".encode(), dead_runners_only=True)


class LocalRunner(Runner):
    """The default runner (``--runner local``).

    Args:
        task_types: the task types it may dispatch to, by name.
        concurrency: default limit of attempts at once per run (the request's
            ``concurrency`` and the workflow's ``concurrency`` win, in that order).
        workers: worker processes for ``isolation: process`` tasks (default: CPU count).
        keep_events: keep every run's events in memory on the result's execution (tests).
        type_limits: per task type, at most this many attempts of the type at once in a run
            (for tasks without a ``pool``; a task's own pool replaces its type's limit).
            Defaults to each type's declared ``default_concurrency`` (None: no limit).
        max_output_bytes: the largest output one task may produce (its stored size: text
            and bytes by length, lists and dicts by their JSON text, tables by their
            in-memory size); larger fails the task. Default 16 MiB.
        max_run_output_bytes: all outputs of one run together; the task whose output goes
            past it fails. Default 256 MiB. Both bound what a run holds in memory and
            writes to the store, so one noisy task cannot exhaust either.
        executor: one :class:`~flowbuilder.interfaces.AttemptExecutor` that runs every
            attempt, whatever its execution mode (a remote executor, say). The scheduling
            rules (readiness, priorities, pools, retries, deadlines, cancel) stay this runner's.
        executors: replace the executor of some execution modes only (``{"process": ...}``);
            the others stay flowrunner's (:mod:`flowrunner.executors`).
    """

    name: ClassVar[str] = "local"

    def __init__(self, task_types: Mapping[str, TaskType], *, concurrency: int | None = None,
                 workers: int | None = None, keep_events: bool = False,
                 type_limits: Mapping[str, int] | None = None,
                 max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
                 max_run_output_bytes: int = DEFAULT_MAX_RUN_OUTPUT_BYTES,
                 executor: AttemptExecutor | None = None,
                 executors: Mapping[ExecutionMode | str, AttemptExecutor] | None = None):  # fmt: skip
        super().__init__(task_types)
        self._executor = executor
        self._executor_overrides = dict(executors or {})
        self._executors: dict[ExecutionMode, AttemptExecutor] | None = None
        self.max_output_bytes = max_output_bytes
        self.max_run_output_bytes = max_run_output_bytes
        self.type_limits: dict[str, int] = {}  # a class attribute: read without building (or importing) the type
        for name in task_types:
            limit = declared(task_types, name, "default_concurrency")
            if limit:
                self.type_limits[name] = limit
        self.type_limits.update(type_limits or {})
        self.default_concurrency = concurrency or DEFAULT_CONCURRENCY
        self.worker_count = workers or os.cpu_count() or 2
        self.keep_events = keep_events
        self._workers: WorkerPool | None = None

    @classmethod
    def from_settings(cls, task_types: Mapping[str, TaskType], settings: Settings, **options: Any) -> LocalRunner:
        """The runner with the ``[flowrunner]`` table's ``max_output_bytes`` and
        ``max_run_output_bytes``; ``options`` (constructor arguments) win over it."""
        section = settings.section(SETTINGS_SECTION)
        for key in ("max_output_bytes", "max_run_output_bytes"):
            if key in section and key not in options:
                options[key] = byte_count(section[key], f"[{SETTINGS_SECTION}] {key}")
        return cls(task_types, **options)

    async def run_async(self, request: RunRequest, cancel: asyncio.Event | None = None) -> RunResult:
        from flowrunner._scheduler import RunExecution

        if request.resume is not None and request.run_id:
            _kill_leftovers(request.run_id)
        return await RunExecution(self, request, cancel).execute()

    def warm(self) -> None:
        """Import the scheduler and the process helpers, build the executors, and run the
        process's first event loops.

        These are imported on first use so that ``flowbuilder validate`` and the other
        commands that load this plugin without running anything stay cheap, and so that an
        idle ``Engine()`` does not hold them (the scheduler brings pydantic and the stores'
        interfaces: about 7 MB). A run imports :mod:`flowrunner._process` only when a task
        starts a process; ``warm`` loads it anyway, since ``shell`` and ``script`` tasks are
        the common case. A process's first event loop costs about 0.2 ms more than later
        ones: an empty coroutine runs once on private loops, each closed at once
        (:func:`flowbuilder.event_loop.warm_event_loop`; no thread, nothing left open).
        """
        import flowrunner._process
        import flowrunner._scheduler  # noqa: F401
        from flowbuilder.event_loop import warm_event_loop

        _ = self.executors
        warm_event_loop()

    def run(self, request: RunRequest) -> RunResult:
        holder: list[RunResult] = []

        async def main() -> None:
            # The result travels through `holder`, not as the main coroutine's return value:
            # asyncio.run() may repr() its main task on the way out (signal-handler check),
            # and the repr of a 100,000-task result costs a noticeable fraction of a second.
            holder.append(await self.run_async(request))

        from flowbuilder.event_loop import run_coroutine

        try:
            run_coroutine(main())
            return holder[0]
        finally:
            self.close_workers()

    @property
    def executors(self) -> Mapping[ExecutionMode, AttemptExecutor]:
        """The executor of each execution mode (built on first use)."""
        if self._executors is None:
            from flowrunner.executors import executors_for

            self._executors = executors_for(self, self._executor, self._executor_overrides)
        return self._executors

    def executors_for_request(self, request: RunRequest) -> Mapping[ExecutionMode, AttemptExecutor]:
        """The executors of one run: the runner's, with the request's own (``--workers``) for their modes.

        Called once per run; a request without executors gets the runner's shared mapping."""
        if not request.executors:
            return self.executors
        from flowbuilder.interfaces import ExecutionMode

        chosen = dict(self.executors)
        for mode, executor in request.executors.items():
            chosen[ExecutionMode(mode)] = executor
        return chosen

    # -- worker processes -------------------------------------------------------------------

    def worker_pool(self) -> WorkerPool:
        if self._workers is None:
            from flowrunner._workers import WorkerPool

            self._workers = WorkerPool(self.worker_count)
        return self._workers

    def call_in_process(self, task_type: TaskType, config: Any, context: TaskContext) -> Any:
        """A coroutine running one attempt in a worker process."""
        return self.worker_pool().submit(task_type, config, context)

    async def call_in_thread(self, task_type: TaskType, config: Any, context: TaskContext) -> Any:
        """Run one attempt's ``run`` in a daemon thread (awaiting it there if it returns an awaitable).

        The pool grows on demand, so how many THREAD attempts run at once is the scheduler's
        business (concurrency, pools); a timed-out or cancelled attempt is abandoned, its
        thread returning to the pool when the call ends.
        """
        import contextvars
        import dataclasses
        from functools import partial

        from flowrunner._daemon_threads import daemon_threads

        # The attempt's log writer belongs to the loop: the thread's lines are handed over to it.
        context = dataclasses.replace(context, log=partial(_log_from_thread, asyncio.get_running_loop(), context.log))
        call = partial(contextvars.copy_context().run, _run_to_completion, task_type, config, context)
        return await asyncio.wrap_future(daemon_threads().submit(call))

    def close_workers(self) -> None:
        """Stop the worker processes (they are started again on demand)."""
        if self._workers is not None:
            self._workers.close()
            self._workers = None

    def close(self) -> None:
        """Close the executors it built and :meth:`close_workers` (what a local runner keeps between runs).

        Executors passed in (``executor=``, ``executors=``) belong to the caller and stay open.
        """
        if self._executors is not None:
            given = {id(self._executor), *(id(executor) for executor in self._executor_overrides.values())}
            for executor in {id(executor): executor for executor in self._executors.values()}.values():
                if id(executor) not in given:
                    executor.close()
            self._executors = None
        self.close_workers()


def _log_from_thread(loop: asyncio.AbstractEventLoop, log: LogWriter, stream: str, line: str) -> None:
    """A THREAD attempt's log line, handed to the run's loop (dropped once that loop has closed:
    an abandoned attempt still printing after its run ended)."""
    hand_lines_to_loop(loop, log, ((stream, line),))


def _run_to_completion(task_type: TaskType, config: Any, context: TaskContext) -> Any:
    """``run`` on a pool thread; a coroutine it returns runs to its end on that thread."""
    import inspect

    result = task_type.run(config, context)
    if inspect.isawaitable(result):

        async def finish() -> Any:
            return await result

        result = asyncio.run(finish())
    return result
