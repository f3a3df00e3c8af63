"""``/api/v1/runs``: start (through the run service), list, show, events, logs, outputs, annotations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from flowbuilder.events import RunStatus
from flowui.api_context import RESERVED_ANNOTATION_KINDS, ApiContext, context_of, principal_of
from flowui.api_errors import ApiError
from flowui.live import event_json, log_json, shown_value
from flowui.routes.workflows import compile_text, dag_of, latest_version
from flowui.schemas import (
    AnnotationIn,
    AnnotationList,
    AnnotationModel,
    EventPage,
    LogPage,
    Outputs,
    RunDefinition,
    RunDetail,
    RunPageModel,
    Started,
    StartRun,
)

if TYPE_CHECKING:
    from flowbuilder.run_service import PreparedRun

router = APIRouter(prefix="/runs", tags=["runs"])

MAX_PAGE = 1000


def start_url(run_id: str) -> Started:
    return Started(
        run_id=run_id, status_url=f"/api/v1/runs/{run_id}", stream_url=f"/api/v1/runs/{run_id}/events/stream"
    )


def _prepare_new(context: ApiContext, body: StartRun) -> PreparedRun:
    from flowbuilder.run_service import prepare_run

    if (body.workflow is None) == (body.yaml is None):
        raise ApiError(400, "give exactly one of `workflow` (a stored workflow's name) and `yaml` (a workflow file)")
    if body.yaml is not None:
        compiled = compile_text(context, body.yaml)
    else:
        assert body.workflow is not None
        latest = latest_version(context, body.workflow)
        if latest is None:
            raise ApiError(404, f"no stored workflow {body.workflow!r}; store it with POST"
                                f" /api/v1/workflows/{body.workflow}/versions, or post its `yaml`")  # fmt: skip
        content = context.store.load_definition(latest.definition_hash)
        compiled = compile_text(context, content, f"<workflow {body.workflow} version {latest.number}>")
    return prepare_run(context.host, compiled, body.params)


@router.post("", response_model=Started, status_code=201)
async def start_run(body: StartRun, request: Request) -> Started:
    """Start a run in this server; params are checked by core first (422 with the reason)."""
    context = context_of(request)
    prepared = await run_in_threadpool(_prepare_new, context, body)
    await context.runs.start(prepared)
    return start_url(prepared.run_id)


@router.get("", response_model=RunPageModel)
def list_runs(request: Request, workflow: str | None = Query(default=None, max_length=256),
              status: RunStatus | None = None, cursor: str | None = Query(default=None, max_length=2048),
              limit: int = Query(default=50, ge=1, le=MAX_PAGE)) -> RunPageModel:  # fmt: skip
    """Runs newest first, filtered by workflow and status, paged with ``cursor``."""
    try:
        page = context_of(request).store.list_runs(workflow=workflow, status=status, limit=limit, cursor=cursor)
    except (ValueError, KeyError, TypeError) as error:
        raise ApiError(400, f"bad cursor: {error}; pass back a next_cursor this API returned") from None
    return RunPageModel(runs=[summary.to_dict() for summary in page.runs], next_cursor=page.next_cursor)


@router.get("/{run_id}", response_model=RunDetail)
def show_run(run_id: str, request: Request) -> RunDetail:
    """The run's summary (status as readers see it) and each task's state."""
    context = context_of(request)
    summary = context.service.run_status(run_id)
    state = context.store.load_state(run_id)
    return RunDetail(summary=summary.to_dict(), params={name: shown_value(value) for name, value in state.params.items()},
                     paused=state.paused, tasks={name: shown_value(task.to_dict()) for name, task in state.tasks.items()})  # fmt: skip


@router.get("/{run_id}/definition", response_model=RunDefinition)
def run_definition(run_id: str, request: Request) -> RunDefinition:
    """The workflow the run was started with (its ``definition_hash``, as the store keeps it) and its DAG.

    The run monitor draws this, not the workflow's latest version, which may have other tasks.
    """
    context = context_of(request)
    summary = context.store.get_run(run_id)
    if not summary.definition_hash:
        raise ApiError(404, f"run {run_id} records no definition (started before the store kept them)")
    content = context.store.load_definition(summary.definition_hash)
    compiled = compile_text(context, content, f"<definition {summary.definition_hash[:12]} of run {run_id}>")
    return RunDefinition(run_id=run_id, workflow=summary.workflow, definition=summary.definition_hash,
                         yaml=content.decode("utf-8", errors="replace"), dag=dag_of(compiled.plan))  # fmt: skip


@router.get("/{run_id}/events", response_model=EventPage)
def run_events(run_id: str, request: Request, after: int = Query(default=0, ge=0, le=1 << 62),
               limit: int = Query(default=500, ge=1, le=MAX_PAGE)) -> EventPage:  # fmt: skip
    """The run's events after ``after`` (a sequence number), ``limit`` at most."""
    store = context_of(request).store
    store.get_run(run_id)  # 404 for an unknown run
    events = store.read_events(run_id, after, limit)
    return EventPage(events=[shown_value(event_json(event)) for event in events],
                     next_after=events[-1].seq if len(events) == limit else None)  # fmt: skip


@router.get("/{run_id}/logs", response_model=LogPage)
def run_logs(run_id: str, request: Request, task: str | None = Query(default=None, max_length=256),
             after: int = Query(default=0, ge=0, le=1 << 62),
             limit: int = Query(default=500, ge=1, le=MAX_PAGE)) -> LogPage:  # fmt: skip
    """Log lines the run's tasks wrote (numbered from 1 in the order stored), after ``after``."""
    context = context_of(request)
    context.store.get_run(run_id)
    lines = context.log_pages.page(run_id, task, after, limit)  # the store has no paging: see flowui.log_pages
    shown = [log_json(after + i, line) for i, line in enumerate(lines, 1)]
    return LogPage(lines=shown, next_after=after + len(lines) if len(lines) == limit else None)


@router.get("/{run_id}/outputs", response_model=Outputs)
def run_outputs(run_id: str, request: Request) -> Outputs:
    """The output of each task that succeeded."""
    store = context_of(request).store
    store.get_run(run_id)
    state = store.load_state(run_id)
    return Outputs(
        outputs={name: shown_value(task.output) for name, task in state.tasks.items() if task.output is not None}
    )


@router.get("/{run_id}/annotations", response_model=AnnotationList)
def list_annotations(run_id: str, request: Request, kind: str | None = Query(default=None, max_length=64),
                     after: int = Query(default=0, ge=0, le=1 << 62)) -> AnnotationList:  # fmt: skip
    """The run's annotations (notes, anomalies, ...), optionally of one ``kind``."""
    store = context_of(request).store
    store.get_run(run_id)
    found = [shown_value(a.to_dict()) for a in store.read_annotations(run_id, after) if kind is None or a.kind == kind]
    return AnnotationList(annotations=found)


@router.get("/{run_id}/anomalies", response_model=AnnotationList)
def list_anomalies(run_id: str, request: Request) -> AnnotationList:
    """Annotations of kind ``anomaly`` (how the AI package reports what it scored as unusual)."""
    return list_annotations(run_id, request, kind="anomaly", after=0)


@router.post("/{run_id}/annotations", response_model=AnnotationModel, status_code=201)
def add_annotation(run_id: str, body: AnnotationIn, request: Request) -> AnnotationModel:
    """Add an annotation beside the run's events (never conflicts with the runner's appends)."""
    from flowbuilder.annotations import Annotation, add_annotation
    from flowbuilder.control import requester

    if body.kind in RESERVED_ANNOTATION_KINDS:
        raise ApiError(400, f"annotation kind {body.kind!r} is reserved for the server")
    context = context_of(request)
    note = Annotation(kind=body.kind, payload=body.payload, task=body.task, author=principal_of(request) or requester())
    # The CLI's and gRPC's checks (an unknown run: 404; a task the run does not have: 400).
    added = add_annotation(context.store, run_id, note, limits=context.host.settings.limits)
    return AnnotationModel(**added.to_dict())


__all__ = ["router"]
