"""``/api/v1/workflows/{name}/stats``: per-task history (P50/P95, success rate, slowest runs).

The figures are flowbuilder-storage's :func:`flowbuilder_storage.history_report`, the same
code as ``flowbuilder stats``: this route only serves them. Polars loads with the first
request, in a worker thread, never when the server starts.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from flowui.api_context import context_of
from flowui.api_errors import ApiError
from flowui.schemas import SlowRun, TaskHistory, WorkflowHistory

router = APIRouter(prefix="/workflows", tags=["workflows"])


def _finite(value: Any) -> Any:
    """JSON has no NaN: a quantile over no successful execution becomes null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: _finite(value) for key, value in row.items()} for row in rows]


@router.get("/{name}/stats", response_model=WorkflowHistory, responses={503: {}})
async def workflow_stats(name: str, request: Request, since: float | None = Query(default=None, ge=0, le=1e11),
                         top: int = Query(default=10, ge=1, le=100)) -> WorkflowHistory:  # fmt: skip
    """Per task: executions, success rate, P50/P95 duration; per day: the trend; the slowest runs.

    ``since`` is a Unix time (runs created at or after it). 503 when flowbuilder-storage,
    which computes the figures, is not installed; 404 for a workflow with no run and no version.
    """
    try:
        from flowbuilder_storage import history_report
    except ImportError:
        raise ApiError(503, "per-task history needs flowbuilder-storage; pip install flowbuilder-storage") from None
    context = context_of(request)
    report = await run_in_threadpool(history_report, context.store, name, since, top)
    if not report["runs"]:
        from flowui.routes.workflows import latest_version

        if latest_version(context, name) is None and not context.store.list_runs(workflow=name, limit=1).runs:
            raise ApiError(404, f"no workflow {name!r}: no stored version and no run of it in the store")
    return WorkflowHistory(workflow=name, runs=report["runs"], events=report["events"],
                           tasks=[TaskHistory(**row) for row in _clean(report["tasks"])],
                           trend=_clean(report["trend"]),
                           slowest_runs=[SlowRun(**row) for row in _clean(report["slowest_runs"])])  # fmt: skip


__all__ = ["router"]
