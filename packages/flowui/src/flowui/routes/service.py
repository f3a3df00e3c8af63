"""The server itself: ``/healthz``, ``/metrics``, and ``/api/v1`` ``plugins`` and ``stats``."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from flowui.api_context import context_of
from flowui.schemas import Health, PluginList, PluginModel, RunStats

HEALTH_TIMEOUT_SECONDS = 3.0
STATS_WINDOW = 1000

probes = APIRouter(tags=["service"])
"""Mounted at the root: probes and scrapers expect these paths."""
router = APIRouter(tags=["service"])
"""Mounted under /api/v1."""


@probes.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(request: Request) -> Any:
    """200 when the store answers a listing within 3 s; 503 with the reason otherwise."""
    import asyncio

    store = context_of(request).store
    try:
        await asyncio.wait_for(run_in_threadpool(store.list_runs, limit=1), HEALTH_TIMEOUT_SECONDS)
    except TimeoutError:
        return JSONResponse({"status": "unavailable", "reason": f"store did not answer in {HEALTH_TIMEOUT_SECONDS:g} s"},
                            status_code=503)  # fmt: skip
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return JSONResponse({"status": "unavailable", "reason": f"store unreachable: {reason}"}, status_code=503)
    return Health(status="ok")


@probes.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})  # fmt: skip
def metrics(request: Request) -> Response:
    """Prometheus text exposition of the runs this server executes."""
    body, content_type = context_of(request).metrics.render()
    return Response(body, media_type=content_type)


@router.get("/plugins", response_model=PluginList)
def plugins(request: Request) -> PluginList:
    """Installed plugins, their distributions and versions, and what each provides (task types, stores, ...)."""
    host = context_of(request).host
    provides = host.contributions()
    return PluginList(plugins=[PluginModel(name=info.name, module=info.module, distribution=info.distribution,
                                           version=info.version, hooks=list(info.hooks),
                                           provides=provides.get(info.name, {})) for info in host.infos])  # fmt: skip


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))]


@router.get("/stats", response_model=RunStats)
def stats(request: Request, workflow: str | None = Query(default=None, max_length=256)) -> RunStats:
    """Run counts by status, success rate and run-duration P50/P95 over the newest 1,000 runs.

    Per-task history (P50/P95 per task, flaky tasks) is flowbuilder-storage's ``flowbuilder
    stats``; it reaches the API once storage offers it through a hook.
    """
    runs = context_of(request).store.list_runs(workflow=workflow, limit=STATS_WINDOW).runs
    by_status: dict[str, int] = {}
    durations: list[float] = []
    for summary in runs:
        by_status[summary.status.value] = by_status.get(summary.status.value, 0) + 1
        if summary.finished_at is not None and summary.created_at:
            durations.append(summary.finished_at - summary.created_at)
    durations.sort()
    finished = sum(by_status.get(s, 0) for s in ("succeeded", "failed", "cancelled"))
    rate = by_status.get("succeeded", 0) / finished if finished else None
    return RunStats(workflow=workflow, runs=len(runs), by_status=by_status, success_rate=rate,
                    duration_p50=_percentile(durations, 0.5), duration_p95=_percentile(durations, 0.95),
                    window=STATS_WINDOW)  # fmt: skip


__all__ = ["probes", "router"]
