"""Run control: cancel, pause, unpause, signal, resume, retry — all through the run service.

Cancel acts at once on a run this server executes; every other request is recorded on the
store's control channel and honoured by whichever process runs the run (within a second).
Resume and retry prepare the run with the service and execute it here.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from flowui.api_context import context_of, principal_of
from flowui.routes.runs import start_url
from flowui.schemas import Accepted, ControlBody, ResumeBody, RetryBody, SignalBody, Started

router = APIRouter(prefix="/runs/{run_id}", tags=["control"])


@router.post("/cancel", response_model=Accepted, status_code=202)
async def cancel_run(run_id: str, request: Request, body: ControlBody | None = None) -> Accepted:
    context = context_of(request)
    reason = body.reason if body else ""
    summary = await run_in_threadpool(context.store.get_run, run_id)  # 404 for an unknown run
    if context.runs.cancel_here(run_id):
        return Accepted(run_id=summary.run_id, action="cancel")
    done = await run_in_threadpool(context.service.request_control, run_id, "cancel", reason=reason,
                                   by=principal_of(request))  # fmt: skip
    return Accepted(run_id=run_id, action="cancel", request=done.number)


def _control(request: Request, run_id: str, action: str, body: ControlBody | None) -> Accepted:
    done = context_of(request).service.request_control(run_id, action, reason=body.reason if body else "",
                                                       by=principal_of(request))  # fmt: skip
    return Accepted(run_id=run_id, action=action, request=done.number)


@router.post("/pause", response_model=Accepted, status_code=202)
def pause_run(run_id: str, request: Request, body: ControlBody | None = None) -> Accepted:
    """No new attempts start until unpaused (running ones go on)."""
    return _control(request, run_id, "pause", body)


@router.post("/unpause", response_model=Accepted, status_code=202)
def unpause_run(run_id: str, request: Request, body: ControlBody | None = None) -> Accepted:
    return _control(request, run_id, "unpause", body)


@router.post("/signal", response_model=Accepted, status_code=202)
def signal_run(run_id: str, body: SignalBody, request: Request) -> Accepted:
    """Send a named signal with a JSON payload (approvals, waits for an event)."""
    done = context_of(request).service.signal(run_id, body.name, body.payload, body.reason, by=principal_of(request))
    return Accepted(run_id=run_id, action="signal", request=done.number)


@router.post("/resume", response_model=Started, status_code=201)
async def resume_run(run_id: str, request: Request, body: ResumeBody | None = None) -> Started:
    """Continue an unfinished (interrupted) run here, with the definition it started with."""
    context = context_of(request)
    params = body.params if body else {}
    prepared = await run_in_threadpool(context.service.prepare_resume, run_id, params)
    await context.runs.start(prepared)
    return start_url(run_id)


@router.post("/retry", response_model=Started, status_code=201)
async def retry_run(run_id: str, request: Request, body: RetryBody | None = None) -> Started:
    """Run a finished run's failed, skipped and cancelled tasks again (``from_tasks``/``only`` widen it)."""
    context = context_of(request)
    body = body or RetryBody()
    prepared = await run_in_threadpool(lambda: context.service.prepare_retry(
        run_id, body.params, from_tasks=body.from_tasks, only=body.only))  # fmt: skip
    await context.runs.start(prepared)
    return start_url(run_id)


__all__ = ["router"]
