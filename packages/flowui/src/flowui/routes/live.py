"""``GET /api/v1/runs/{run_id}/events/stream`` and ``.../logs/stream``: Server-Sent Events
from the subscription seam.

History first, then live, in order; ``id:`` is the event's sequence number, so a client
that reconnects with ``Last-Event-ID`` (or ``?after=``) resumes after it. The stream ends
after the run's ``run_finished`` (an ``end`` frame). The log stream does the same with log
lines (``id:`` is the line's number, as ``/logs`` numbers it). See :mod:`flowui.live`.
"""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from flowui.api_context import context_of
from flowui.api_errors import ApiError
from flowui.live import MAX_FOLLOWED_RUNS

router = APIRouter(prefix="/runs/{run_id}", tags=["live"])


def _is_number(text: str) -> bool:
    """Whether ``text`` is ASCII digits: ``str.isdigit`` also says yes to ``²`` or ``١``
    (a header is read as Latin-1), which ``int`` then refuses (a 500)."""
    return text.isascii() and text.isdigit()


@router.get("/events/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "Server-Sent Events until the run ends."}})  # fmt: skip
async def stream_events(run_id: str, request: Request, after: int = Query(default=0, ge=0, le=1 << 62),
                        last_event_id: str | None = Header(default=None, max_length=32)) -> StreamingResponse:  # fmt: skip
    context = context_of(request)
    await run_in_threadpool(context.store.get_run, run_id)  # 404 before the stream starts
    if last_event_id:
        if not _is_number(last_event_id):
            raise ApiError(400, "Last-Event-ID must be an event sequence number")
        after = max(after, int(last_event_id))
    slot = context.live.reserve(run_id)  # taken now, not when the stream starts: a burst cannot overshoot
    if slot is None:
        raise ApiError(503, f"{MAX_FOLLOWED_RUNS} runs are followed live already; retry later, or page /events")
    return StreamingResponse(context.live.stream(run_id, after, slot), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip


@router.get("/logs/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "Server-Sent Events of log lines until the run ends."}})  # fmt: skip
async def stream_logs(run_id: str, request: Request, task: str | None = Query(default=None, max_length=256),
                      after: int = Query(default=0, ge=0, le=1 << 62),
                      last_event_id: str | None = Header(default=None, max_length=32)) -> StreamingResponse:  # fmt: skip
    """The run's log lines (of ``task`` if given) after line ``after``, live, until the run ended."""
    context = context_of(request)
    await run_in_threadpool(context.store.get_run, run_id)  # 404 before the stream starts
    if last_event_id:
        if not _is_number(last_event_id):
            raise ApiError(400, "Last-Event-ID must be a log line number")
        after = max(after, int(last_event_id))
    slot = context.live.reserve()
    if slot is None:
        raise ApiError(503, f"{MAX_FOLLOWED_RUNS} runs are followed live already; retry later, or page /logs")
    return StreamingResponse(context.live.log_stream(run_id, task, after, slot), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip


__all__ = ["router"]
