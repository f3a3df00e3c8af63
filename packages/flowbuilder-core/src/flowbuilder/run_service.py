"""The run service: the one path from a workflow to a run, shared by every entry point.

Every way of running a workflow — ``flowbuilder run`` and ``resume``, the Python API
(``flowrunner.Engine``), the testing kit, and next a server or a cluster leader — goes
through :class:`RunService`, so the steps exist once and in one order:

1. **compile**: validate the workflow (a path, YAML text, a :class:`~flowbuilder.model.Workflow`
   or a compiled :class:`~flowbuilder.plan.ExecutionPlan`) and plan it
   (:func:`compile_workflow_input`);
2. **prepare**: check the params against the workflow's ``params`` and resolve its secrets
   (:meth:`RunService.prepare`), or, to continue a stored run, fold its state, recompile the
   definition it started with and take its params again, with the values of ``secret: true``
   params given anew (:meth:`RunService.prepare_resume`);
3. **request**: save the definition in the store and build the run's sinks (the caller's,
   then every plugin's ``flowbuilder_event_sinks``) into a
   :class:`~flowbuilder.interfaces.RunRequest` (:meth:`RunService.request`);
4. **execute** on the configured runner (:meth:`PluginHost.make_runner
   <flowbuilder.plugins.PluginHost.make_runner>`, so ``--runner`` and ``runner =`` apply
   everywhere): await it (:meth:`RunService.execute`), start it on the running loop and
   follow or cancel it through a :class:`RunHandle` (:meth:`RunService.submit`), or run it
   from synchronous code (:meth:`RunService.run`).

Steps 1 and 2 touch no store, so an invalid workflow or a bad param is refused before
anything is opened or written. Nothing here runs per task: the service is called once per
run, and the runner then calls the sinks directly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping, Sequence, Union

from flowbuilder.errors import ConfigurationError, FlowBuilderError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces.sink import EventSink

if TYPE_CHECKING:
    from flowbuilder._workflow_form_cache import WorkflowFormCache
    from flowbuilder.control import ControlRequest
    from flowbuilder.events import RunState
    from flowbuilder.fencing import Fence
    from flowbuilder.interfaces import AttemptExecutor, Runner, RunRequest, RunResult, RunSummary, Store
    from flowbuilder.model import Workflow
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost
    from flowbuilder.subworkflows import ParentLink, SubworkflowConfig

WorkflowInput = Union[str, bytes, Path, "Workflow", "ExecutionPlan", "CompiledWorkflow"]
"""What a run can be started from: a path (``Path``, or a ``str`` naming an existing file),
YAML text (a ``str`` holding a newline, or ``bytes``), a ``Workflow`` model, a compiled
``ExecutionPlan``, or a :class:`CompiledWorkflow`."""


@dataclass(frozen=True, slots=True)
class CompiledWorkflow:
    """A validated, planned workflow and the definition to store for it.

    ``definition`` is what a resumed run recompiles (``None`` for a plan given directly: such
    a run cannot be resumed, because there is nothing to recompile it from).
    """

    plan: ExecutionPlan
    definition: bytes | None = None
    compile_seconds: float | None = None
    """How long loading, validating and planning took (None when given a plan): the run's timing shows it."""


@dataclass(slots=True)
class PreparedRun:
    """A run that passed every check and is ready to start; nothing has been stored yet.

    ``resume`` is the folded state of the stored run being continued (None for a new run);
    ``definition`` is saved by :meth:`RunService.request` unless ``definition_hash`` already
    names the stored one.
    """

    run_id: str
    plan: ExecutionPlan
    params: Mapping[str, Any]
    secrets: Mapping[str, str] = field(default_factory=dict)
    definition: bytes | None = None
    definition_hash: str | None = None
    resume: RunState | None = None
    retry: Mapping[str, Any] | None = None
    """For a retry of a finished run (:meth:`RunService.prepare_retry`): ``rerun`` (the task
    names that run again), ``from``, ``only`` and ``previous_status``; recorded in the run's
    ``run_started`` event."""
    parent: ParentLink | None = None
    """For a child run (``type: workflow``): the run and task that started it."""
    subworkflows: Mapping[str, Any] | None = None
    """The stored definitions of its ``path:`` children (:func:`flowbuilder.subworkflows.store_pins`);
    None: stored from the plan's pins by :meth:`RunService.request`."""
    use_cache: bool = True
    """False: tasks with ``cache:`` run without reading or writing the result cache (``--no-cache``)."""
    logical_time: str | None = None
    """The scheduled instant this run stands for (ISO-8601 UTC), None for an unscheduled run;
    ``run.logical_time`` in expressions. A resumed or retried run keeps its own."""
    idempotency_key: str | None = None
    """When set, :meth:`RunService.claim` records the run under this key before it starts,
    and a second run with the same key is refused (:class:`~flowbuilder.errors.DuplicateRunError`)."""
    compile_seconds: float | None = None
    """The :attr:`CompiledWorkflow.compile_seconds` of the plan, for the run's timing."""
    fence: Fence | None = None
    """Set by a leader for the runs it drives: every append carries it (:attr:`RunRequest.fence
    <flowbuilder.interfaces.RunRequest.fence>`, :mod:`flowbuilder.fencing`); None for every other run."""


def compile_workflow_input(host: PluginHost, workflow: WorkflowInput, *,
                           form_cache: WorkflowFormCache | None = None) -> CompiledWorkflow:  # fmt: skip
    """Validate and plan a workflow given in any accepted form (see :data:`WorkflowInput`).

    ``form_cache`` lets a workflow file validated before skip parsing and core's schema
    check (``flowbuilder run`` passes one; see :func:`flowbuilder.loader.load_workflow`).

    Raises :class:`~flowbuilder.errors.WorkflowError` with ``FILE:LINE:COL`` diagnostics for
    an invalid workflow, and :class:`~flowbuilder.errors.ConfigurationError` for a one-line
    ``str`` that names no file.
    """
    from flowbuilder.loader import load_workflow, plan_workflow
    from flowbuilder.model import Workflow
    from flowbuilder.plan import ExecutionPlan

    if isinstance(workflow, CompiledWorkflow):
        return workflow
    if isinstance(workflow, ExecutionPlan):
        return CompiledWorkflow(workflow)
    started = time.perf_counter()
    if isinstance(workflow, Workflow):
        from flowbuilder.compiler import compile_workflow

        plan = compile_workflow(workflow, host.task_types(), passes=host.compile_passes())
        from flowbuilder.plan import has_subworkflows

        if has_subworkflows(plan):  # `path:` children relative to the current directory
            from flowbuilder.diagnostics import Locator
            from flowbuilder.subworkflows import pin_children

            plan = pin_children(plan, Locator(f"<workflow {workflow.name}>"), None, host)
        definition = workflow.model_dump_json(exclude_defaults=True).encode()
        return CompiledWorkflow(plan, definition, time.perf_counter() - started)
    if isinstance(workflow, str) and "\n" not in workflow:
        path = Path(workflow)
        if not path.is_file():
            raise ConfigurationError(f"no workflow file {workflow!r}; give a path to a .yaml file, or YAML text")
        workflow = path
    source = load_workflow(workflow, limits=host.settings.limits, host=host, form_cache=form_cache)
    plan = plan_workflow(source, host)
    return CompiledWorkflow(plan, source.content, time.perf_counter() - started)


def prepare_run(host: PluginHost, workflow: WorkflowInput, params: Mapping[str, Any] | None = None, *,
                run_id: str | None = None, use_cache: bool = True, logical_time: str | None = None,
                idempotency_key: str | None = None) -> PreparedRun:  # fmt: skip
    """A new run of ``workflow``: compiled, params checked, secrets resolved; no store needed.

    ``use_cache=False`` runs tasks with ``cache:`` without reading or writing the result cache.
    ``logical_time`` and ``idempotency_key`` are a scheduled run's (see :class:`PreparedRun`).

    Raises :class:`~flowbuilder.errors.WorkflowError` for an invalid workflow,
    :class:`~flowbuilder.params.ParamError` for a wrong or missing param and
    :class:`~flowbuilder.errors.ConfigurationError` for a secret no provider has.
    """
    from flowbuilder.params import resolve_params
    from flowbuilder.secrets import resolve_run_secrets

    compiled = compile_workflow_input(host, workflow)
    plan = compiled.plan
    resolved = resolve_params(plan.workflow, dict(params or {}))
    secrets = resolve_run_secrets(plan, host)
    return PreparedRun(run_id or uuid.uuid4().hex, plan, resolved, secrets, compiled.definition, use_cache=use_cache,
                       logical_time=logical_time, idempotency_key=idempotency_key,
                       compile_seconds=compiled.compile_seconds)  # fmt: skip


class RunService:
    """Starts, resumes, follows and cancels runs of one store with one runner.

    Args:
        host: the plugin host (task types, compile passes, sinks, secret providers, runners).
        store: where runs are recorded; the service does not close it.
        runner: a runner name, a built :class:`~flowbuilder.interfaces.Runner`, or None for
            the configured one (``--runner``, ``runner =`` in flowbuilder.toml,
            ``FLOWBUILDER_RUNNER``, else ``local``). Built on first use.
        runner_options: constructor options for a runner built here (``concurrency``,
            ``workers`` for flowrunner's ``local``).
        concurrency: the limit of attempts at once for runs that do not give their own.
        workers: where attempts run instead of in the runner's process: a URL served by a
            plugin's attempt executor (``redis://host:6379/0``, see
            :meth:`PluginHost.make_attempt_executor <flowbuilder.plugins.PluginHost.make_attempt_executor>`),
            a built :class:`~flowbuilder.interfaces.AttemptExecutor`, or None for the
            configured one (``--workers``, ``workers =``, ``FLOWBUILDER_WORKERS``; none: local).
            The executor takes the attempts of its ``modes``; the scheduling rules stay the
            runner's. Built on the first request; closed by :meth:`close` if built here.
    """

    def __init__(self, host: PluginHost, store: Store, *, runner: Runner | str | None = None,
                 runner_options: Mapping[str, Any] | None = None, concurrency: int | None = None,
                 workers: AttemptExecutor | str | None = None):  # fmt: skip
        self.host = host
        self.store = store
        self.concurrency = concurrency
        self._runner: Runner | None = runner if runner is not None and not isinstance(runner, str) else None
        self._runner_name = runner if isinstance(runner, str) else None
        self._runner_options = dict(runner_options or {})
        self._handles: dict[str, RunHandle] = {}
        self._workers_url = workers if isinstance(workers, str) else host.settings.workers if workers is None else None
        self._workers: AttemptExecutor | None = (
            workers if workers is not None and not isinstance(workers, str) else None
        )
        self._workers_built = False

    @property
    def workers(self) -> AttemptExecutor | None:
        """The attempt executor runs send their attempts to, or None (the runner's own; built on first use)."""
        if self._workers is None and self._workers_url:
            self._workers = self.host.make_attempt_executor(self._workers_url)
            self._workers_built = True
        return self._workers

    @property
    def runner(self) -> Runner:
        """The runner every run of this service executes on (built once, on first use)."""
        if self._runner is None:
            self._runner = self.host.make_runner(self._runner_name, **self._runner_options)
        return self._runner

    # -- preparing -------------------------------------------------------------------------

    def prepare(self, workflow: WorkflowInput, params: Mapping[str, Any] | None = None, *,
                run_id: str | None = None, use_cache: bool = True, logical_time: str | None = None,
                idempotency_key: str | None = None) -> PreparedRun:  # fmt: skip
        """A new run of ``workflow`` (see :func:`prepare_run`; nothing is stored yet)."""
        return prepare_run(self.host, workflow, params, run_id=run_id, use_cache=use_cache, logical_time=logical_time,
                           idempotency_key=idempotency_key)  # fmt: skip

    def prepare_resume(self, run_id: str, params: Mapping[str, Any] | None = None, *, force: bool = False,
                       fence: Fence | None = None) -> PreparedRun:  # fmt: skip
        """Continue the stored, unfinished run ``run_id`` with the definition it started with.

        The definition is loaded by the content hash the run recorded, so a resumed run means
        what it meant when it started even if the workflow file has changed since. ``params``
        gives the values of ``secret: true`` params again (the record holds ``***``).
        Succeeded tasks are kept; everything else runs (again).

        A run whose owner still holds a live lease is refused (it is running elsewhere:
        resuming it would run its tasks twice), naming the owner, unless ``force``.
        ``fence`` is a leader's, taking over a run of a leader that died (see :class:`PreparedRun`).
        """
        from flowbuilder.leases import lease_is_live
        from flowbuilder.params import resume_params
        from flowbuilder.secrets import resolve_run_secrets

        state, plan = self.stored_plan(run_id)
        lease = self.store.read_lease(run_id)
        if not force and lease is not None and lease_is_live(lease):
            raise FlowBuilderError(f"run {run_id} is still running in {lease.describe()}; cancel it there, wait"
                                   " until it shows interrupted, or pass --force if that process is gone")  # fmt: skip
        resolved = resume_params(plan.workflow, state.params, dict(params or {}))
        secrets = resolve_run_secrets(plan, self.host)
        return PreparedRun(run_id, plan, resolved, secrets, definition_hash=state.definition_hash, resume=state,
                           logical_time=state.logical_time, fence=fence, **_family_of(state))  # fmt: skip

    def prepare_retry(self, run_id: str, params: Mapping[str, Any] | None = None, *, from_tasks: Sequence[str] = (),
                      only: Sequence[str] = ()) -> PreparedRun:  # fmt: skip
        """Run a finished run's failed, skipped and cancelled tasks again, under the same run id.

        ``from_tasks`` reruns those tasks and everything downstream even if it succeeded;
        ``only`` reruns those tasks and the downstream tasks that did not succeed (see
        :func:`flowbuilder.retry.retry_scope`). Succeeded tasks outside the selection are
        kept with their outputs, as a resume keeps them. New events are appended after the
        run's ``run_finished`` (never rewriting it), starting with a ``run_started`` that
        records the retry; attempt numbers continue. ``params`` gives ``secret: true``
        params again, and secrets are resolved anew, as for a resume.

        Refused (FlowBuilderError) for a run that has not finished (resume it instead), a
        succeeded run with no selection, an unknown task name, or a run with no stored
        definition; RunNotFoundError for an unknown run.
        """
        from flowbuilder.leases import lease_is_live
        from flowbuilder.params import resume_params
        from flowbuilder.retry import retry_scope
        from flowbuilder.secrets import resolve_run_secrets

        state = self.store.load_state(run_id)
        if not state.status.finished:
            lease = self.store.read_lease(run_id)
            if lease is not None and lease_is_live(lease):
                raise FlowBuilderError(f"run {run_id} is still running in {lease.describe()}; retry it once it"
                                       " has finished, or cancel it first")  # fmt: skip
            raise FlowBuilderError(f"run {run_id} has not finished (it was cut short); continue it with"
                                   f" `flowbuilder resume {run_id}`")  # fmt: skip
        from flowbuilder.events import RunStatus

        if state.status is RunStatus.SUCCEEDED and not from_tasks and not only:
            raise FlowBuilderError(f"run {run_id} succeeded; nothing failed to retry — pass --from TASK or"
                                   " --only TASK to run tasks again")  # fmt: skip
        plan = self._plan_of(run_id, state, "retried")
        if plan.states is not None:
            raise FlowBuilderError(f"run {run_id} is a state machine; retrying one is not supported yet — start a"
                                   " new run (its history stays in this one)")  # fmt: skip
        rerun = retry_scope(plan, state.tasks, from_tasks=from_tasks, only=only)
        if not rerun:
            raise FlowBuilderError(f"run {run_id}: no task to run again")
        resolved = resume_params(plan.workflow, state.params, dict(params or {}))
        secrets = resolve_run_secrets(plan, self.host)
        retry = {"rerun": rerun, "from": list(from_tasks), "only": list(only),
                 "previous_status": state.status.value}  # fmt: skip
        return PreparedRun(run_id, plan, resolved, secrets, definition_hash=state.definition_hash, resume=state,
                           retry=retry, logical_time=state.logical_time, **_family_of(state))  # fmt: skip

    def stored_plan(self, run_id: str) -> tuple[RunState, ExecutionPlan]:
        """The folded state of an unfinished run and the plan compiled from its stored definition."""
        state = self.store.load_state(run_id)
        if state.status.finished:
            raise FlowBuilderError(f"run {run_id} already finished ({state.status.value}); nothing to resume —"
                                   f" rerun what did not succeed with `flowbuilder retry {run_id}`")  # fmt: skip
        return state, self._plan_of(run_id, state, "resumed")

    def _plan_of(self, run_id: str, state: RunState, verb: str) -> ExecutionPlan:
        """The plan compiled from the definition the run recorded (``verb``: for the error)."""
        from flowbuilder.loader import load_workflow, plan_workflow

        if not state.definition_hash:
            raise FlowBuilderError(f"run {run_id} has no stored workflow definition, so it cannot be {verb}")
        content: bytes | str = self.store.load_definition(state.definition_hash)
        if isinstance(content, bytes) and content[:2] in (b"\xff\xfe", b"\xfe\xff"):
            # Stored by a version that still read UTF-16 files (now refused): a run already
            # recorded must stay resumable, so decode it here rather than refuse it.
            content = content.decode("utf-16")
        source = load_workflow(content, filename=f"<definition {state.definition_hash[:12]} of run {run_id}>",
                               limits=self.host.settings.limits)  # fmt: skip
        return plan_workflow(source, self.host, children=False)  # its children were pinned when it started

    def prepare_child(self, config: SubworkflowConfig, parent: ParentLink, pinned: Mapping[str, Any] | None,
                      params: Mapping[str, Any], *, run_id: str | None = None) -> PreparedRun:  # fmt: skip
        """A child run for a ``workflow`` task: its definition loaded from the store, its params checked.

        ``config`` is the task's rendered config; ``pinned`` the record its parent keeps for
        a ``path:`` child (``run_created``'s ``subworkflows`` entry for the task). Raises
        :class:`FlowBuilderError` (no pinned definition, a stored definition of another name),
        :class:`~flowbuilder.errors.StoreError` (no such definition),
        :class:`~flowbuilder.errors.WorkflowError` (an invalid stored definition) and
        :class:`~flowbuilder.params.ParamError` (a param the child refuses).
        """
        from flowbuilder.loader import load_workflow, plan_workflow
        from flowbuilder.params import resolve_params
        from flowbuilder.secrets import resolve_run_secrets

        if config.path is not None:
            if not pinned or not isinstance(pinned.get("definition"), str):
                raise FlowBuilderError(f"sub-workflow {config.path!r} was not loaded with its parent (a workflow"
                                       " read back from a store names its children by `definition` and `version`)")  # fmt: skip
            digest, filename = pinned["definition"], str(pinned.get("path") or config.path)
            children: Mapping[str, Any] = pinned.get("subworkflows") or {}
        else:
            assert config.version is not None
            digest, filename, children = config.version, f"<definition {config.definition} {config.version[:12]}>", {}
        content = self.store.load_definition(digest)
        source = load_workflow(content, filename=filename, limits=self.host.settings.limits, host=self.host)
        plan = plan_workflow(source, self.host, children=False)
        if config.definition is not None and plan.workflow.name != config.definition:
            raise FlowBuilderError(f"definition {config.version} is workflow {plan.workflow.name!r}, not"
                                   f" {config.definition!r}")  # fmt: skip
        resolved = resolve_params(plan.workflow, dict(params))
        secrets = resolve_run_secrets(plan, self.host)
        return PreparedRun(run_id or uuid.uuid4().hex, plan, resolved, secrets, definition_hash=digest,
                           parent=parent, subworkflows=children)  # fmt: skip

    def latest_unfinished_run(self, workflow: str) -> str:
        """The newest run of ``workflow`` that has not finished; FlowBuilderError if none."""
        cursor: str | None = None
        while True:
            page = self.store.list_runs(workflow=workflow, limit=100, cursor=cursor)
            for summary in page.runs:
                if not summary.status.finished:
                    return summary.run_id
            if page.next_cursor is None:
                raise FlowBuilderError(f"no unfinished run of workflow {workflow!r} to resume; run it without --resume")
            cursor = page.next_cursor

    # -- starting --------------------------------------------------------------------------

    def claim(self, prepared: PreparedRun) -> None:
        """Claim ``prepared.idempotency_key`` for this run in the store, before anything runs.

        The store decides (:meth:`~flowbuilder.interfaces.coordination.CoordinationStore.claim_key`),
        so of two processes starting the same logical time exactly one proceeds; the other
        gets :class:`~flowbuilder.errors.DuplicateRunError` naming the run that holds the key.
        A run is claimed before its first event is written: a process killed in between
        leaves the key claimed with no run behind it (at most once, never twice). A leader's
        run (``prepared.fence``) checks its fence first (:meth:`~flowbuilder.interfaces.event_log.EventLog.raise_fence`),
        so a leader that was deposed gets :class:`~flowbuilder.errors.StaleLeaderError` rather
        than claim a key whose run the store would refuse. Without a
        key (or for a resume, which has its run already) this does nothing;
        :meth:`run` and :meth:`submit` call it.
        """
        key = prepared.idempotency_key
        if key is None or prepared.resume is not None:
            return
        if prepared.fence is not None:  # a deposed leader claims nothing (StaleLeaderError): the current one may
            self.store.raise_fence(prepared.fence)
        from flowbuilder.errors import DuplicateRunError

        holder = self.store.claim_key(key, prepared.run_id)
        if holder != prepared.run_id:
            raise DuplicateRunError(key, holder)

    def request(self, prepared: PreparedRun, *, sinks: Sequence[EventSink] = (),
                concurrency: int | None = None) -> RunRequest:  # fmt: skip
        """Save the definition (unless already stored) and build the run's request.

        The sinks are ``sinks`` first, then those of every plugin for this run.
        ``concurrency`` wins over the service's default; without either, the workflow's own
        ``concurrency`` and then the runner's default apply.
        """
        from flowbuilder.interfaces import RunRequest

        digest = prepared.definition_hash
        if digest is None and prepared.definition is not None:
            digest = self.store.save_definition(prepared.definition)
        subworkflows = prepared.subworkflows
        if subworkflows is None:
            from flowbuilder.plan import pins_of

            pins = pins_of(prepared.plan)
            subworkflows = {}
            if pins:
                from flowbuilder.subworkflows import store_pins

                subworkflows = store_pins(self.store, pins)
        workers = self.workers
        executors: dict[str, AttemptExecutor] = {}
        if workers is not None:
            executors = dict.fromkeys(type(workers).modes, workers)
            recording = workers.recording_sink(prepared.run_id)
            if recording is not None:
                sinks = [*sinks, recording]
        return RunRequest(plan=prepared.plan, params=prepared.params, run_id=prepared.run_id, store=self.store,
                          sinks=[*sinks, *self.host.event_sinks(prepared.run_id, self.store, plan=prepared.plan)], executors=executors,
                          concurrency=concurrency or self.concurrency, resume=prepared.resume,
                          definition_hash=digest, secrets=prepared.secrets, retry=prepared.retry,
                          service=self, parent=prepared.parent, subworkflows=subworkflows,
                          use_cache=prepared.use_cache, logical_time=prepared.logical_time,
                          idempotency_key=prepared.idempotency_key, compile_seconds=prepared.compile_seconds,
                          fence=prepared.fence)  # fmt: skip

    async def execute(self, request: RunRequest, cancel: asyncio.Event | None = None) -> RunResult:
        """Run ``request`` to its end on the running loop; setting ``cancel`` cancels it."""
        return await self.runner.run_async(request, cancel)

    def run(self, prepared: PreparedRun, *, sinks: Sequence[EventSink] = (),
            concurrency: int | None = None) -> RunResult:  # fmt: skip
        """Run to the end from synchronous code (the runner's own ``run``: a loop of its own).

        A run with an ``idempotency_key`` is claimed first (:meth:`claim`)."""
        self.claim(prepared)
        return self.runner.run(self.request(prepared, sinks=sinks, concurrency=concurrency))

    async def submit(self, prepared: PreparedRun, *, sinks: Sequence[EventSink] = (),
                     concurrency: int | None = None, replay: bool = True) -> RunHandle:  # fmt: skip
        """Start a run on the running loop and return its handle at once (follow, cancel, await).

        A run with an ``idempotency_key`` is claimed first (:meth:`claim`, a blocking store call).
        ``replay`` (the default) keeps the run's events in memory for as long as the handle
        lives, so that :meth:`RunHandle.events` starts from the first event whenever it is
        called. ``replay=False`` keeps none (a 100,000-task run has 200,000 events, about
        45 MB): ``events()`` then yields the events from its call on. A caller that only
        awaits the result (``Engine.run``, ``run_workflow``) passes False.

        A run this service executes now cannot be submitted again (FlowBuilderError, a 409 from
        the server): the run's lease is this process's own, so it does not stop a second
        execution here, and six retries of one failed run posted at once all ran its tasks,
        interleaving six attempts in its event log. The check and the handle's registration
        have no ``await`` between them, so two submits on one loop cannot both pass.
        """
        running = self._handles.get(prepared.run_id)
        if running is not None and not running.done():
            raise FlowBuilderError(f"run {prepared.run_id} is already running in this process; wait for it to end"
                                   " (or cancel it) before resuming or retrying it")  # fmt: skip
        self.claim(prepared)
        stream = _StreamSink(keep=replay)
        request = self.request(prepared, sinks=[stream, *sinks], concurrency=concurrency)
        cancel = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self.execute(request, cancel))
        handle = RunHandle(prepared.run_id, task, cancel, stream)
        self._handles[prepared.run_id] = handle

        def finished(_: asyncio.Task[RunResult]) -> None:
            self._handles.pop(prepared.run_id, None)
            stream.close()  # a runner that raised never closed its sinks: end the followers too

        task.add_done_callback(finished)
        return handle

    # -- steering runs, from this process or any other -----------------------------------

    def cancel(self, run_id: str, reason: str = "", *, by: str | None = None) -> bool:
        """Cancel a run: at once if this service started it (:meth:`submit`), else by recording a
        control request that the process running it honours (see :meth:`request_control`).

        Returns True when the cancel was handed over. Unlike before 0.2, a run that is not
        running here is no longer False but a recorded request; an unknown or finished run
        raises (:class:`~flowbuilder.errors.RunNotFoundError`, :class:`FlowBuilderError`).
        """
        handle = self._handles.get(run_id)
        if handle is not None:
            handle.cancel()
            return True
        self.request_control(run_id, "cancel", reason=reason, by=by)
        return True

    def pause(self, run_id: str, reason: str = "", *, by: str | None = None) -> ControlRequest:
        """Ask the run's owner to start no new attempts (running ones go on) until :meth:`unpause`."""
        return self.request_control(run_id, "pause", reason=reason, by=by)

    def unpause(self, run_id: str, reason: str = "", *, by: str | None = None) -> ControlRequest:
        """Ask the run's owner to start attempts again after :meth:`pause`."""
        return self.request_control(run_id, "unpause", reason=reason, by=by)

    def signal(self, run_id: str, name: str, payload: Any = None, reason: str = "", *,
               by: str | None = None) -> ControlRequest:  # fmt: skip
        """Send the run a named signal with a JSON ``payload``; its owner records it as ``run_signalled``."""
        return self.request_control(run_id, "signal", name=name, payload=payload, reason=reason, by=by)

    def request_control(self, run_id: str, action: str, *, name: str | None = None, payload: Any = None,
                        reason: str = "", by: str | None = None) -> ControlRequest:  # fmt: skip
        """Record a control request for an unfinished run; the process running it honours it
        within a second and records it in the run's history (who asked, when, why).

        ``by`` defaults to ``user@host:pid`` of this process. Raises
        :class:`~flowbuilder.errors.RunNotFoundError` for an unknown run,
        :class:`FlowBuilderError` for a finished one, and
        :class:`~flowbuilder.errors.StoreError` for a bad request (signal name, payload not
        JSON or too large) or a store that keeps no control requests. A request for an
        ``interrupted`` run is kept and honoured by whoever resumes it.
        """
        from flowbuilder.control import ControlRequest, requester

        summary = self.store.get_run(run_id)
        if summary.status.finished:
            raise FlowBuilderError(f"run {run_id} already finished ({summary.status.value}); there is nothing to"
                                   f" {action}")  # fmt: skip
        request = ControlRequest(action, name, payload, by=by or requester(), reason=reason)
        return self.store.request_control(run_id, request)

    def wait_until_honoured(self, run_id: str, request: ControlRequest, timeout: float) -> RunEvent | None:
        """Wait (blocking) until the run's history records ``request`` (or the run finished); the
        event that shows it, or None after ``timeout`` seconds. Woken by the store's push."""
        import time

        deadline = time.monotonic() + timeout
        seq = 0
        while True:
            events, _ = self.store.wait_for_updates(run_id, seq, 1 << 62, min(1.0, max(deadline - time.monotonic(), 0)))
            for event in events:
                if event.data.get("request") == request.number and event.task is None:
                    return event
                if event.kind is EventKind.RUN_FINISHED:
                    return event
            if events:
                seq = events[-1].seq
            if time.monotonic() >= deadline:
                return None

    def run_status(self, run_id: str) -> RunSummary:
        """The run's summary with its status as readers see it (``interrupted`` when its owner's lease lapsed)."""
        from flowbuilder.leases import with_live_status

        return with_live_status(self.store, self.store.get_run(run_id))

    def warm(self, sample: str | bytes | None = None) -> None:
        """Load now what the first run would load on demand, so that it costs what later runs cost.

        Entry points import lazily so that a command such as ``flowbuilder validate`` loads
        only what it uses; a long-lived application would rather pay once, up front. This
        imports the modules that loading, compiling, preparing and recording a run use (the
        YAML parser too), builds core's DSL models (``defer_build``: see
        :func:`flowbuilder.model.build_models`) and what every installed task type builds on first use (:meth:`TaskType.warm
        <flowbuilder.interfaces.TaskType.warm>`: its config model at least), loads the
        expression engine, asks the plugins for their compile passes once (the host keeps
        them) and calls the runner's :meth:`~flowbuilder.interfaces.Runner.warm`.

        ``sample``: the YAML text of a small valid workflow of installed task types, loaded,
        validated and compiled here (with no compile pass: no plugin sees it), then dropped:
        never run, nothing stored. A first pass through the loader and the compiler costs
        about twice a later one (CPython specialises bytecode as it runs it; first
        validations fill caches in pydantic), nearly half of a fresh process's first short
        run (issue 10). Every new definition still pays its own compile. Raises what loading
        the sample raises (:class:`~flowbuilder.errors.WorkflowError`: pass a valid one).

        It starts no thread, process or connection, leaves no event loop behind (flowrunner's
        local runner runs an empty coroutine once on private loops it closes at once:
        :func:`flowbuilder.event_loop.warm_event_loop`), touches no store, and is idempotent.
        """
        from flowbuilder import compiler, loader, params, plan, secrets, yamlsource  # noqa: F401
        from flowbuilder.expressions import load_expression_engine
        from flowbuilder.model import build_models

        build_models()
        load_expression_engine()
        task_types = self.host.task_types()
        for task_type in task_types.values():
            task_type.warm()
        self.host.compile_passes()
        if sample is not None:
            source = loader.load_workflow(sample, filename="<warm-up sample>", limits=self.host.settings.limits)
            compiler.compile_workflow(source.workflow, task_types, locator=source.locator, passes=())
        self.runner.warm()

    def close(self) -> None:
        """Stop the runner's worker processes, if it has any (they start again on demand), and
        close the attempt executor built from a workers URL."""
        if self._workers_built and self._workers is not None:
            self._workers.close()
            self._workers = None
            self._workers_built = False
        if self._runner is None:
            return
        self._runner.close()


def _family_of(state: RunState) -> dict[str, Any]:
    """The parent link and pinned children a stored run recorded, for continuing it."""
    from flowbuilder.subworkflows import ParentLink

    return {"parent": ParentLink.from_data(state.parent), "subworkflows": state.subworkflows}


class _StreamSink(EventSink):
    """Hands each batch to the run's followers (called on the loop's thread)."""

    def __init__(self, keep: bool = True) -> None:
        self.queues: list[asyncio.Queue[RunEvent | None]] = []
        self.seen: list[RunEvent] = []
        self.keep = keep
        self.closed = False

    def handle(self, events: Sequence[RunEvent]) -> None:
        if self.keep:
            self.seen.extend(events)
        for queue in self.queues:
            for event in events:
                queue.put_nowait(event)

    def close(self) -> None:
        if self.closed:  # the runner closed it, then the run's task ended
            return
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
        """Every event of the run from the first, live, ending after ``run_finished``
        (from this call on when the run was submitted with ``replay=False``)."""
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


__all__ = [
    "CompiledWorkflow",
    "PreparedRun",
    "RunHandle",
    "RunService",
    "WorkflowInput",
    "compile_workflow_input",
    "prepare_run",
]
