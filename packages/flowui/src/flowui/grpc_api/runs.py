"""``flowbuilder.v1.RunService``: start, follow, query and steer runs through core's seams.

Every call goes to core: runs start and resume through :class:`flowbuilder.run_service.RunService`
(``prepare`` / ``prepare_resume`` / ``prepare_retry`` then ``submit``, so they execute on
this server's event loop, like a run of ``flowbuilder run``), are steered through its
``cancel`` / ``pause`` / ``unpause`` / ``signal`` (the control channel: any process's run),
followed through ``RunHandle.events`` (a run started here) or ``Store.subscribe`` (any run),
and read from the store's run index, event log and annotations. Nothing here schedules.

Blocking work (compiling, store reads and writes) runs on worker threads; what touches the
run service's own handles (``submit``, ``cancel``) stays on the loop, as core requires.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Protocol

from flowbuilder import Annotation, ConfigurationError, ControlRequest, RunNotFoundError, RunStatus, StoreError
from flowbuilder.annotations import add_annotation, encode_annotation
from flowbuilder.control import encode_control_request
from flowbuilder.leases import list_runs_live
from flowbuilder.stores.paging import decode_cursor
from flowui import workflow_catalog
from flowui.api_context import RESERVED_ANNOTATION_KINDS
from flowui.grpc_api import _messages as convert
from flowui.grpc_api._compile import compile_stored, compile_text
from flowui.grpc_api._generated import flowbuilder_pb2 as pb
from flowui.grpc_api._generated import flowbuilder_pb2_grpc as pb_grpc
from flowui.grpc_api._status import BadRequest, streaming, unary

if TYPE_CHECKING:
    import grpc

    from flowbuilder import Store
    from flowbuilder.run_service import PreparedRun, RunHandle, RunService

    Context = grpc.aio.ServicerContext[Any, Any]

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
"""A run id a client may choose: a letter or digit, then up to 127 of those or ``_ . : -``."""
MAX_RUN_ID_CHARS = 256
"""Longest run id a read or control call accepts (ids of runs started elsewhere are not checked against RUN_ID)."""
DEFAULT_PAGE = 50
MAX_PAGE = 500
UPDATE_EVENTS = 500
"""Events per :class:`RunUpdate` message of a stream (a long history is cut into several)."""
UPDATE_BYTES = 2 * 1024 * 1024
"""Bytes of event data per RunUpdate message, past which the batch is cut (one bigger event still goes whole)."""

Identify = Callable[["grpc.aio.ServicerContext[Any, Any]"], str]


class Submit(Protocol):
    """How a prepared run is started: ``RunService.submit`` itself, or ``flowbuilder serve``'s
    :meth:`LocalRuns.submit <flowui.local_runs.LocalRuns.submit>` (metrics, cancelled on stop)."""

    async def __call__(self, prepared: PreparedRun, *, concurrency: int | None = None,
                       replay: bool = False) -> RunHandle: ...  # fmt: skip


def _submit_to(service: RunService) -> Submit:
    async def submit(prepared: PreparedRun, *, concurrency: int | None = None, replay: bool = False) -> RunHandle:
        return await service.submit(prepared, concurrency=concurrency, replay=replay)

    return submit


def peer_of(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """Who asked, when the integrator gives no ``identify``: the peer's address."""
    return f"grpc:{context.peer()}"


class RunServicer(pb_grpc.RunServiceServicer):
    """Runs of one :class:`~flowbuilder.run_service.RunService`; ``store`` answers the reads.

    ``identify`` names the caller for control requests and annotations (``by``, ``author``):
    the integrator's token check knows the user; by default it is the peer's address.
    """

    def __init__(self, service: RunService, store: Store, identify: Identify = peer_of, submit: Submit | None = None):
        self.service = service
        self.store = store
        self.identify = identify
        self.submit = submit or _submit_to(service)

    # -- starting ---------------------------------------------------------------------------

    async def _prepare_new(self, request: pb.StartRunRequest) -> PreparedRun:
        which = request.WhichOneof("workflow")
        if which is None:
            raise BadRequest("no workflow: give `yaml` (its text) or `stored` (a version kept by StoreWorkflow)")
        params = convert.parse_json_object(request.params_json, "params_json")
        run_id = request.run_id or None
        if run_id is not None and not RUN_ID.match(run_id):
            raise BadRequest(f"run_id {run_id[:140]!r} is not a run id: use a letter or digit, then up to 127 letters,"
                             " digits or _ . : -")  # fmt: skip
        host, store, service = self.service.host, self.store, self.service

        def prepare() -> PreparedRun:
            if which == "yaml":
                compiled = compile_text(host, request.yaml, request.filename)
            else:
                ref = request.stored
                version = workflow_catalog.get_version(store, ref.workflow, ref.version)
                compiled = compile_stored(host, store.load_definition(version.definition_hash), ref.workflow,
                                          version.number)  # fmt: skip
            if run_id is not None and _run_exists(store, run_id):
                raise BadRequest(f"run {run_id} already exists; choose another run_id or leave it empty",
                                 _already_exists())  # fmt: skip
            return service.prepare(compiled, params, run_id=run_id)  # core's ParamError masks secret params

        return await asyncio.to_thread(prepare)

    async def _submit(self, prepared: PreparedRun, *, concurrency: int = 0, replay: bool = False) -> RunHandle:
        return await self.submit(prepared, concurrency=concurrency or None, replay=replay)

    async def _start(self, prepared: PreparedRun, *, concurrency: int = 0) -> None:
        """Submit, and return once the run's first new event is stored (sinks see events after the
        store), so that the run a StartRun, Resume or Retry names is there for the next call."""
        handle = await self._submit(prepared, concurrency=concurrency)
        events = handle.events()
        try:
            async for _ in events:
                break
        finally:
            await events.aclose()  # type: ignore[attr-defined]  # an async generator, typed as an iterator
        if handle.done():
            await handle.result()  # a runner that failed before recording anything: its error

    @streaming
    async def ExecuteFlow(self, request: pb.StartRunRequest, context: Context) -> AsyncIterator[pb.RunEvent]:
        handle = await self._submit(await self._prepare_new(request), concurrency=request.concurrency, replay=True)
        async for event in handle.events():
            yield convert.run_event(event)
        if handle.done():
            await handle.result()  # a runner that broke ends the stream with its error, not silently

    @unary
    async def StartRun(self, request: pb.StartRunRequest, context: Context) -> pb.StartRunResponse:
        prepared = await self._prepare_new(request)
        await self._start(prepared, concurrency=request.concurrency)
        return pb.StartRunResponse(run_id=prepared.run_id, workflow=prepared.plan.workflow.name)

    @unary
    async def Resume(self, request: pb.ResumeRequest, context: Context) -> pb.StartRunResponse:
        run_id = _run_id(request.run_id)
        params = convert.parse_json_object(request.params_json, "params_json")
        prepared = await asyncio.to_thread(self.service.prepare_resume, run_id, params, force=request.force)
        await self._start(prepared)
        return pb.StartRunResponse(run_id=run_id, workflow=prepared.plan.workflow.name)

    @unary
    async def Retry(self, request: pb.RetryRequest, context: Context) -> pb.StartRunResponse:
        run_id = _run_id(request.run_id)
        params = convert.parse_json_object(request.params_json, "params_json")
        prepared = await asyncio.to_thread(self.service.prepare_retry, run_id, params,
                                           from_tasks=list(request.from_tasks), only=list(request.only))  # fmt: skip
        await self._start(prepared)
        return pb.StartRunResponse(run_id=run_id, workflow=prepared.plan.workflow.name)

    # -- reading ----------------------------------------------------------------------------

    @unary
    async def GetFlowStatus(self, request: pb.RunRef, context: Context) -> pb.FlowStatus:
        run_id = _run_id(request.run_id)
        summary = await asyncio.to_thread(self.service.run_status, run_id)
        state = await asyncio.to_thread(self.store.load_state, run_id)
        return convert.flow_status(summary, state)

    @unary
    async def QueryExecutions(self, request: pb.QueryExecutionsRequest, context: Context) -> pb.QueryExecutionsResponse:
        status = None
        if request.status:
            try:
                status = RunStatus(request.status)
            except ValueError:
                raise BadRequest(f"status {request.status[:40]!r} is not a run status: use one of"
                                 f" {', '.join(s.value for s in RunStatus)}") from None  # fmt: skip
        limit = request.limit or DEFAULT_PAGE
        if limit > MAX_PAGE:
            raise BadRequest(f"limit {limit} is more than {MAX_PAGE}; page through with next_cursor")
        if request.cursor:
            try:
                decode_cursor(request.cursor)
            except StoreError as error:
                raise BadRequest(str(error)) from None
        page = await asyncio.to_thread(list_runs_live, self.store, workflow=request.workflow or None, status=status,
                                       since=convert.finite(request.since, "since"),
                                       until=convert.finite(request.until, "until"), limit=limit,
                                       cursor=request.cursor or None)  # fmt: skip
        return pb.QueryExecutionsResponse(runs=[convert.run_summary(s) for s in page.runs],
                                          next_cursor=page.next_cursor or "")  # fmt: skip

    @streaming
    async def StreamEvents(self, request: pb.StreamEventsRequest, context: Context) -> AsyncIterator[pb.RunUpdate]:
        run_id = _run_id(request.run_id)
        await asyncio.to_thread(self.store.get_run, run_id)  # NOT_FOUND now, rather than wait for a run to appear
        after_seq, after_annotation = _after(request.after_seq, "after_seq"), _after(request.after_annotation,
                                                                                 "after_annotation")  # fmt: skip
        async for update in self.store.subscribe(run_id, after_seq, after_annotation):
            for message in _cut(update.events, update.annotations):
                yield message

    @unary
    async def ListAnnotations(self, request: pb.ListAnnotationsRequest, context: Context) -> pb.ListAnnotationsResponse:
        run_id = _run_id(request.run_id)
        await asyncio.to_thread(self.store.get_run, run_id)
        notes = await asyncio.to_thread(self.store.read_annotations, run_id, _after(request.after, "after"))
        return pb.ListAnnotationsResponse(annotations=[convert.annotation(note) for note in notes])

    # -- steering ---------------------------------------------------------------------------

    @unary
    async def AddAnnotation(self, request: pb.AddAnnotationRequest, context: Context) -> pb.Annotation:
        run_id = _run_id(request.run_id)
        if request.kind in RESERVED_ANNOTATION_KINDS:
            raise BadRequest(f"annotation kind {request.kind!r} is reserved for the server")
        note = Annotation(kind=request.kind, payload=convert.parse_json(request.payload_json, "payload_json"),
                          task=request.task or None, attempt=request.attempt if request.HasField("attempt") else None,
                          author=self.identify(context))  # fmt: skip
        _checked(encode_annotation, note)
        try:  # the CLI's and REST's checks: an unknown run, a task the run does not have
            added = await asyncio.to_thread(add_annotation, self.store, run_id, note,
                                            limits=self.service.host.settings.limits)  # fmt: skip
        except ConfigurationError as error:  # a bad argument, as REST's 400 says (not a failed precondition)
            raise BadRequest(str(error)) from None
        return convert.annotation(added)

    @unary
    async def Cancel(self, request: pb.ControlRunRequest, context: Context) -> pb.ControlResponse:
        run_id = _run_id(request.run_id)
        by = self.identify(context)
        _checked(encode_control_request, ControlRequest("cancel", by=by, reason=request.reason))
        if not await asyncio.to_thread(_run_exists, self.store, run_id):
            raise RunNotFoundError(run_id)
        self.service.cancel(run_id, request.reason, by=by)  # on the loop: a run started here is cancelled at once
        return pb.ControlResponse(run_id=run_id)

    @unary
    async def Pause(self, request: pb.ControlRunRequest, context: Context) -> pb.ControlResponse:
        return await self._control(request.run_id, "pause", request.reason, context)

    @unary
    async def Unpause(self, request: pb.ControlRunRequest, context: Context) -> pb.ControlResponse:
        return await self._control(request.run_id, "unpause", request.reason, context)

    @unary
    async def Signal(self, request: pb.SignalRequest, context: Context) -> pb.ControlResponse:
        payload = convert.parse_json(request.payload_json, "payload_json")
        return await self._control(request.run_id, "signal", request.reason, context, name=request.name,
                                   payload=payload)  # fmt: skip

    async def _control(self, run_id: str, action: str, reason: str, context: Context, *, name: str | None = None,
                       payload: Any = None) -> pb.ControlResponse:  # fmt: skip
        run_id = _run_id(run_id)
        by = self.identify(context)
        _checked(encode_control_request, ControlRequest(action, name, payload, by=by, reason=reason))
        recorded = await asyncio.to_thread(self.service.request_control, run_id, action, name=name, payload=payload,
                                           reason=reason, by=by)  # fmt: skip
        return pb.ControlResponse(run_id=run_id, request_number=recorded.number)


def _run_id(run_id: str) -> str:
    if not run_id:
        raise BadRequest("run_id is empty; give the id of a run (QueryExecutions lists them)")
    if len(run_id) > MAX_RUN_ID_CHARS:
        raise BadRequest(f"run_id is {len(run_id)} characters; run ids are at most {MAX_RUN_ID_CHARS}")
    return run_id


MAX_AFTER = 1 << 62
"""The largest ``after`` a request may give (the REST API's bound too): a store packs it into
its keys, and RocksDB's annotation keys could not hold 2**64 - 1 (INTERNAL)."""


def _after(value: int, field: str) -> int:
    if value > MAX_AFTER:
        raise BadRequest(f"{field} {value} is past the largest number a run uses ({MAX_AFTER})")
    return value


def _run_exists(store: Store, run_id: str) -> bool:
    try:
        store.get_run(run_id)
    except RunNotFoundError:
        return False
    return True


def _checked(encode: Callable[[Any], bytes], value: Any) -> None:
    """Core's own check of a request or annotation (its one-line reason), before anything is read or written."""
    try:
        encode(value)
    except StoreError as error:
        raise BadRequest(str(error)) from None


def _already_exists() -> grpc.StatusCode:
    import grpc

    return grpc.StatusCode.ALREADY_EXISTS


def _cut(events: list[Any], annotations: list[Annotation]) -> list[pb.RunUpdate]:
    """One subscription batch as RunUpdate messages of at most UPDATE_EVENTS events / about UPDATE_BYTES."""
    messages: list[pb.RunUpdate] = []
    current: list[pb.RunEvent] = []
    size = 0
    for event in events:
        message = convert.run_event(event)
        if current and (len(current) >= UPDATE_EVENTS or size + len(message.data_json) > UPDATE_BYTES):
            messages.append(pb.RunUpdate(events=current))
            current, size = [], 0
        current.append(message)
        size += len(message.data_json)
    notes = [convert.annotation(note) for note in annotations]
    messages.append(pb.RunUpdate(events=current, annotations=notes))
    return [m for m in messages if m.events or m.annotations]


__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "RUN_ID", "RunServicer", "peer_of"]
