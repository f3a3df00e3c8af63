"""The Python API: load workflows, run them, stream their events, cancel them.

The CLI's ``flowbuilder run`` and this API are thin layers over core's run service
(:mod:`flowbuilder.run_service`): the same checks, the same configured runner
(``runner =`` in flowbuilder.toml, ``FLOWBUILDER_RUNNER``), the same sinks. Two flavours:

* synchronous: :func:`run_workflow` runs one workflow to its end and returns the
  :class:`~flowbuilder.interfaces.RunResult`; :func:`run_workflows` runs many at once;
* asyncio: :class:`Engine` submits any number of runs at once on the running loop
  (:meth:`Engine.submit` returns a :class:`RunHandle` to await, stream or cancel), and
  :func:`run_workflow_async` awaits one; :meth:`Engine.resume` continues a stored,
  unfinished run.

A workflow may be given as a path (``str`` naming an existing file, or ``pathlib.Path``),
as YAML text (a ``str`` holding a newline, or ``bytes``), as a
:class:`flowbuilder.model.Workflow` built in Python code, or as a compiled
:class:`~flowbuilder.plan.ExecutionPlan`. Params are checked against the workflow's
``params`` (:class:`flowbuilder.params.ParamError` says which is wrong).

Example::

    import asyncio
    from flowrunner import Engine

    async def main():
        engine = Engine()
        handles = [await engine.submit("etl.yaml", params={"day": d}) for d in ("mon", "tue")]
        async for event in handles[0].events():
            print(event.seq, event.kind.value, event.task)
        results = [await h.result() for h in handles]
        engine.close()

    asyncio.run(main())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from flowbuilder.interfaces import EventSink, RunResult
from flowbuilder.run_service import RunHandle as RunHandle  # re-exported: flowrunner.RunHandle
from flowbuilder.run_service import RunService, WorkflowInput, compile_workflow_input

if TYPE_CHECKING:
    from flowbuilder.control import ControlRequest
    from flowbuilder.events import RunEvent
    from flowbuilder.interfaces import AttemptExecutor, Runner, Store
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost


_WARM_UP_SAMPLE = """\
name: flowrunner-warm-up
description: compiled by Engine.warm(), never run
tasks:
  - name: first
    type: python
    config: {callable: "builtins:abs", args: [-1]}
  - name: second
    type: python
    depends_on: [first]
    config:
      callable: builtins:abs
      args: [-2]
"""
"""What :meth:`Engine.warm` compiles (and never runs): two tasks of flowrunner's ``python`` type."""


class Engine:
    """Loads and runs workflows in this process; many runs at once on one event loop.

    Args:
        store: a store URL (``memory://``, ``rocksdb://PATH``...), an open Store, or None
            for the configured default.
        concurrency: default limit of attempts at once per run.
        host: a plugin host (default: every installed plugin, per the settings).
        workers: worker processes for ``isolation: process`` tasks.
        runner: a runner name or a built Runner; None for the configured one (``runner =``
            in flowbuilder.toml, ``FLOWBUILDER_RUNNER``, else ``local``).
        remote_workers: where attempts run instead of this process: a workers URL
            (``redis://HOST:PORT/DB``, served by a plugin's attempt executor) or a built
            AttemptExecutor; None for the configured one (``workers =``,
            ``FLOWBUILDER_WORKERS``; none: here). See ``RunService(workers=...)``.
    """

    def __init__(self, *, store: str | Store | None = None, concurrency: int | None = None,
                 host: PluginHost | None = None, workers: int | None = None,
                 runner: str | Runner | None = None,
                 remote_workers: str | AttemptExecutor | None = None):  # fmt: skip
        if host is None:
            from flowbuilder.plugins import build_plugin_host

            host = build_plugin_host()
        self.host = host
        self._own_store = store is None or isinstance(store, str)
        self.store: Store = host.open_store(store) if store is None or isinstance(store, str) else store
        options = {key: value for key, value in (("concurrency", concurrency), ("workers", workers)) if value}
        self.service = RunService(host, self.store, runner=runner, runner_options=options, workers=remote_workers)
        self.runner: Runner = self.service.runner  # built now, so a bad runner fails here, not at submit

    def warm(self) -> None:
        """Load now what the first run would load on demand (modules, task types' models, the
        expression engine, the runner's scheduler) and compile a small sample workflow once,
        never run (the first pass through the loader and compiler: see
        :meth:`RunService.warm <flowbuilder.run_service.RunService.warm>`): call it once at
        start-up and the first run costs about what later runs cost. Optional and idempotent;
        it starts no thread, process or connection and stores nothing (the process's first
        event loops run an empty coroutine here and are closed). The sample uses flowrunner's ``python`` type; when
        a plugin replaced that type, no sample is compiled."""
        from flowrunner.tasktypes.python import PythonTask

        python = self.host.task_types().get("python")
        self.service.warm(_WARM_UP_SAMPLE if type(python) is PythonTask else None)

    # -- loading ----------------------------------------------------------------------------

    def load(self, workflow: WorkflowInput) -> tuple[ExecutionPlan, bytes | None]:
        """Compile a workflow from any accepted form; returns the plan and the definition's bytes."""
        compiled = compile_workflow_input(self.host, workflow)
        return compiled.plan, compiled.definition

    # -- running ----------------------------------------------------------------------------

    async def submit(self, workflow: WorkflowInput, params: Mapping[str, Any] | None = None, *,
                     run_id: str | None = None, concurrency: int | None = None,
                     sinks: Sequence[EventSink] = (), use_cache: bool = True) -> RunHandle:  # fmt: skip
        """Start a run on the running loop and return its handle at once.

        ``use_cache=False`` runs tasks with ``cache:`` without reading or writing the result
        cache (``flowbuilder run --no-cache``).
        """
        prepared = self.service.prepare(workflow, params, run_id=run_id, use_cache=use_cache)
        return await self.service.submit(prepared, sinks=sinks, concurrency=concurrency)

    async def resume(self, run_id: str, params: Mapping[str, Any] | None = None, *,
                     concurrency: int | None = None, sinks: Sequence[EventSink] = (),
                     use_cache: bool = True) -> RunHandle:  # fmt: skip
        """Continue the stored, unfinished run ``run_id`` under the same id; returns its handle.

        Tasks recorded as succeeded are kept, the rest run (again), with the workflow
        definition the run started with. ``params`` gives the values of ``secret: true``
        params again (the run's record does not hold them).
        """
        prepared = self.service.prepare_resume(run_id, params)
        prepared.use_cache = use_cache
        return await self.service.submit(prepared, sinks=sinks, concurrency=concurrency)

    async def retry(self, run_id: str, params: Mapping[str, Any] | None = None, *, from_tasks: Sequence[str] = (),
                    only: Sequence[str] = (), concurrency: int | None = None,
                    sinks: Sequence[EventSink] = (), use_cache: bool = True) -> RunHandle:  # fmt: skip
        """Run a finished run's failed, skipped and cancelled tasks again, under the same run id.

        Succeeded tasks keep their outputs; ``from_tasks`` also reruns those tasks and
        everything downstream, ``only`` reruns just those tasks (and what below them did not
        succeed). The retry's events follow the run's history, attempt numbers continuing
        (see :meth:`RunService.prepare_retry <flowbuilder.run_service.RunService.prepare_retry>`).
        """
        prepared = self.service.prepare_retry(run_id, params, from_tasks=from_tasks, only=only)
        prepared.use_cache = use_cache  # False: a task rerun with --from runs even if its result is cached
        return await self.service.submit(prepared, sinks=sinks, concurrency=concurrency)

    async def run(self, workflow: WorkflowInput, params: Mapping[str, Any] | None = None, **options: Any) -> RunResult:
        """Submit one run and await its result."""
        sinks, concurrency = options.pop("sinks", ()), options.pop("concurrency", None)
        prepared = self.service.prepare(workflow, params, **options)
        # Nobody can follow this handle: keep none of the run's events in memory for replay.
        handle = await self.service.submit(prepared, sinks=sinks, concurrency=concurrency, replay=False)
        return await handle.result()

    def cancel(self, run_id: str, reason: str = "", *, by: str | None = None) -> bool:
        """Cancel a run by id: at once if this engine runs it, else through a control request that
        the process running it honours (see :meth:`RunService.cancel
        <flowbuilder.run_service.RunService.cancel>`; unknown or finished runs raise)."""
        return self.service.cancel(run_id, reason, by=by)

    def signal(self, run_id: str, name: str, payload: Any = None, reason: str = "", *,
               by: str | None = None) -> ControlRequest:  # fmt: skip
        """Send the run ``run_id`` the signal ``name`` with a JSON ``payload`` (an ``approval``
        task waiting for ``name`` decides on it: ``{"approved": true}``); works for a run of this
        engine, of another process, or an interrupted one (honoured when it is resumed).

        ``by`` is who sends it (``approvers`` match it; default ``user@host:pid``). Returns the
        recorded request (see :meth:`RunService.signal <flowbuilder.run_service.RunService.signal>`).
        """
        return self.service.signal(run_id, name, payload, reason, by=by)

    def close(self) -> None:
        """Stop worker processes and close the store if the engine opened it."""
        self.service.close()
        if self._own_store:
            self.store.close()


def run_workflow(workflow: WorkflowInput, params: Mapping[str, Any] | None = None, *,
                 store: str | Store | None = "memory://", concurrency: int | None = None,
                 on_event: Callable[[RunEvent], None] | None = None, use_cache: bool = True) -> RunResult:  # fmt: skip
    """Run one workflow to its end from synchronous code and return its result.

    ``store`` defaults to ``memory://`` (nothing written to disk); pass ``None`` for the
    configured default store or a URL of your own. ``on_event`` is called with every event.
    ``use_cache=False`` ignores the result cache (``cache:`` tasks run and store nothing).
    """
    holder: list[RunResult] = []

    async def main() -> None:  # the result is not the main task's value (see LocalRunner.run)
        holder.append(
            await run_workflow_async(
                workflow, params, store=store, concurrency=concurrency, on_event=on_event, use_cache=use_cache
            )
        )

    from flowbuilder.event_loop import run_coroutine

    run_coroutine(main())
    return holder[0]


async def run_workflow_async(workflow: WorkflowInput, params: Mapping[str, Any] | None = None, *,
                             store: str | Store | None = "memory://", concurrency: int | None = None,
                             on_event: Callable[[RunEvent], None] | None = None,
                             use_cache: bool = True) -> RunResult:  # fmt: skip
    """The asyncio flavour of :func:`run_workflow`."""
    engine = Engine(store=store, concurrency=concurrency)
    try:
        sinks: list[EventSink] = [_CallbackSink(on_event)] if on_event is not None else []
        return await engine.run(workflow, params, sinks=sinks, use_cache=use_cache)
    finally:
        engine.close()


def run_workflows(runs: Sequence[tuple[WorkflowInput, Mapping[str, Any] | None]], *,
                  store: str | Store | None = "memory://", concurrency: int | None = None) -> list[RunResult]:  # fmt: skip
    """Run many workflows at once from synchronous code; results in the order given.

    ``runs`` holds ``(workflow, params)`` pairs (the same workflow may appear many times).
    All runs share one event loop, one runner and one store.
    """
    holder: list[list[RunResult]] = []

    async def main() -> None:
        engine = Engine(store=store, concurrency=concurrency)
        try:
            handles = [await engine.submit(workflow, params) for workflow, params in runs]
            holder.append([await handle.result() for handle in handles])
        finally:
            engine.close()

    from flowbuilder.event_loop import run_coroutine

    run_coroutine(main())
    return holder[0]


class _CallbackSink(EventSink):
    def __init__(self, callback: Callable[[RunEvent], None]):
        self.callback = callback

    def handle(self, events: Sequence[RunEvent]) -> None:
        for event in events:
            self.callback(event)
