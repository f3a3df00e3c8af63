"""The Python API: load workflows, run them, stream their events, cancel them.

The CLI's ``flowbuilder run`` is a thin layer over the same pieces. Two flavours:

* synchronous: :func:`run_workflow` runs one workflow to its end and returns the
  :class:`~flowbuilder.interfaces.RunResult`; :func:`run_workflows` runs many at once;
* asyncio: :class:`Engine` submits any number of runs at once on the running loop
  (:meth:`Engine.submit` returns a :class:`RunHandle` to await, stream or cancel), and
  :func:`run_workflow_async` awaits one.

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

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping, Sequence, Union

from flowbuilder.errors import ConfigurationError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces import EventSink, RunRequest, RunResult

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store
    from flowbuilder.model import Workflow
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost
    from flowrunner.runner import LocalRunner

WorkflowInput = Union[str, bytes, Path, "Workflow", "ExecutionPlan"]


class _StreamSink(EventSink):
    """Hands each batch to the run's subscribers (called on the loop's thread)."""

    def __init__(self) -> None:
        self.queues: list[asyncio.Queue[RunEvent | None]] = []
        self.seen: list[RunEvent] = []
        self.closed = False

    def handle(self, events: Sequence[RunEvent]) -> None:
        self.seen.extend(events)
        for queue in self.queues:
            for event in events:
                queue.put_nowait(event)

    def close(self) -> None:
        self.closed = True
        for queue in self.queues:
            queue.put_nowait(None)


class RunHandle:
    """One submitted run: await :meth:`result`, iterate :meth:`events`, or :meth:`cancel` it."""

    def __init__(self, run_id: str, task: asyncio.Task[RunResult], cancel: asyncio.Event, stream: _StreamSink):
        self.run_id = run_id
        self._task = task
        self._cancel = cancel
        self._stream = stream

    async def result(self) -> RunResult:
        """The run's result once it has finished (cancelled runs return too, status ``cancelled``)."""
        return await asyncio.shield(self._task)

    def done(self) -> bool:
        return self._task.done()

    def cancel(self) -> None:
        """Ask the run to stop: running attempts are cancelled, nothing more starts."""
        self._cancel.set()

    async def events(self) -> AsyncIterator[RunEvent]:
        """Every event of the run from the first, live, ending after ``run_finished``."""
        queue: asyncio.Queue[RunEvent | None] = asyncio.Queue()
        for event in self._stream.seen:
            queue.put_nowait(event)
        if self._stream.closed:
            queue.put_nowait(None)
        else:
            self._stream.queues.append(queue)
        try:
            while True:
                next_event = await queue.get()
                if next_event is None:
                    return
                yield next_event
                if next_event.kind is EventKind.RUN_FINISHED:
                    return
        finally:
            if queue in self._stream.queues:
                self._stream.queues.remove(queue)


class Engine:
    """Loads and runs workflows in this process; many runs at once on one event loop.

    Args:
        store: a store URL (``memory://``, ``rocksdb://PATH``...), an open Store, or None
            for the configured default.
        concurrency: default limit of attempts at once per run.
        host: a plugin host (default: every installed plugin, per the settings).
        workers: worker processes for ``isolation: process`` tasks.
    """

    def __init__(self, *, store: str | Store | None = None, concurrency: int | None = None,
                 host: PluginHost | None = None, workers: int | None = None):  # fmt: skip
        if host is None:
            from flowbuilder.plugins import build_plugin_host

            host = build_plugin_host()
        self.host = host
        self._own_store = store is None or isinstance(store, str)
        self.store: Store = host.open_store(store) if store is None or isinstance(store, str) else store
        from flowrunner.runner import LocalRunner

        self.runner: LocalRunner = LocalRunner.from_settings(
            host.task_types(), host.settings, concurrency=concurrency, workers=workers
        )
        self._handles: dict[str, RunHandle] = {}

    # -- loading ----------------------------------------------------------------------------

    def load(self, workflow: WorkflowInput) -> tuple[ExecutionPlan, bytes | None]:
        """Compile a workflow from any accepted form; returns the plan and the definition's bytes."""
        from flowbuilder.loader import load_workflow, plan_workflow
        from flowbuilder.model import Workflow
        from flowbuilder.plan import ExecutionPlan

        if isinstance(workflow, ExecutionPlan):
            return workflow, None
        if isinstance(workflow, Workflow):
            from flowbuilder.compiler import compile_workflow

            content = workflow.model_dump_json(exclude_defaults=True).encode()
            return compile_workflow(workflow, self.host.task_types(), passes=self.host.compile_passes()), content
        limits = self.host.settings.limits
        if isinstance(workflow, str) and "\n" not in workflow:
            path = Path(workflow)
            if not path.is_file():
                raise ConfigurationError(f"no workflow file {workflow!r}; give a path to a .yaml file, or YAML text")
            workflow = path
        source = load_workflow(workflow, limits=limits, host=self.host)
        return plan_workflow(source, self.host), source.content

    # -- running ----------------------------------------------------------------------------

    async def submit(self, workflow: WorkflowInput, params: Mapping[str, Any] | None = None, *,
                     run_id: str | None = None, concurrency: int | None = None,
                     sinks: Sequence[EventSink] = ()) -> RunHandle:  # fmt: skip
        """Start a run on the running loop and return its handle at once."""
        from flowbuilder.params import resolve_params
        from flowbuilder.secrets import resolve_run_secrets

        plan, content = self.load(workflow)
        resolved = resolve_params(plan.workflow, dict(params or {}))
        secrets = resolve_run_secrets(plan, self.host)
        digest = self.store.save_definition(content) if content is not None else None
        run_id = run_id or uuid.uuid4().hex
        stream = _StreamSink()
        request = RunRequest(plan=plan, params=resolved, run_id=run_id, store=self.store,
                             sinks=[stream, *sinks, *self.host.event_sinks(run_id)],
                             concurrency=concurrency, definition_hash=digest, secrets=secrets)  # fmt: skip
        cancel = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self.runner.run_async(request, cancel))
        handle = RunHandle(run_id, task, cancel, stream)
        self._handles[run_id] = handle
        task.add_done_callback(lambda _: self._handles.pop(run_id, None))
        return handle

    async def run(self, workflow: WorkflowInput, params: Mapping[str, Any] | None = None, **options: Any) -> RunResult:
        """Submit one run and await its result."""
        handle = await self.submit(workflow, params, **options)
        return await handle.result()

    def cancel(self, run_id: str) -> bool:
        """Cancel a run of this engine by id; False if it is not running here."""
        handle = self._handles.get(run_id)
        if handle is None:
            return False
        handle.cancel()
        return True

    def close(self) -> None:
        """Stop worker processes and close the store if the engine opened it."""
        self.runner.close_workers()
        if self._own_store:
            self.store.close()


def run_workflow(workflow: WorkflowInput, params: Mapping[str, Any] | None = None, *,
                 store: str | Store | None = "memory://", concurrency: int | None = None,
                 on_event: Callable[[RunEvent], None] | None = None) -> RunResult:  # fmt: skip
    """Run one workflow to its end from synchronous code and return its result.

    ``store`` defaults to ``memory://`` (nothing written to disk); pass ``None`` for the
    configured default store or a URL of your own. ``on_event`` is called with every event.
    """
    holder: list[RunResult] = []

    async def main() -> None:  # the result is not the main task's value (see LocalRunner.run)
        holder.append(
            await run_workflow_async(workflow, params, store=store, concurrency=concurrency, on_event=on_event)
        )

    asyncio.run(main())
    return holder[0]


async def run_workflow_async(workflow: WorkflowInput, params: Mapping[str, Any] | None = None, *,
                             store: str | Store | None = "memory://", concurrency: int | None = None,
                             on_event: Callable[[RunEvent], None] | None = None) -> RunResult:  # fmt: skip
    """The asyncio flavour of :func:`run_workflow`."""
    engine = Engine(store=store, concurrency=concurrency)
    try:
        sinks: list[EventSink] = [_CallbackSink(on_event)] if on_event is not None else []
        return await engine.run(workflow, params, sinks=sinks)
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

    asyncio.run(main())
    return holder[0]


class _CallbackSink(EventSink):
    def __init__(self, callback: Callable[[RunEvent], None]):
        self.callback = callback

    def handle(self, events: Sequence[RunEvent]) -> None:
        for event in events:
            self.callback(event)
