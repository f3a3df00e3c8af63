"""A tiny real Starlette app behind SecurityMiddleware, served by uvicorn on a free 127.0.0.1 port."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flowbuilder.interfaces.authenticator import Authenticator
from flowbuilder_contracts.redis_server import free_port
from flowui.security import AuditWriter, SecurityMiddleware

ROUTE_ROLES = {
    ("GET", "/api/v1/runs"): "viewer",
    ("POST", "/api/v1/runs"): "operator",
    ("POST", "/api/v1/runs/{run_id}/cancel"): "operator",
    "DELETE /api/v1/workflows/{name}": "admin",
    ("GET", "/api/v1/plugins"): "admin",
}
"""The shape of flowui/routes_policy.py's table: method + path template -> role."""


async def list_runs(request: Request) -> JSONResponse:
    return JSONResponse(
        {"runs": [], "principal": request.state.principal.name, "by": request.scope["flowui.principal"]}
    )


async def start_run(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"started": True, "params": sorted(body.get("params", {}))}, status_code=201)


async def cancel_run(request: Request) -> JSONResponse:
    await request.body()  # a reason may come with it
    return JSONResponse({"cancelled": request.path_params["run_id"]})


async def delete_workflow(request: Request) -> JSONResponse:
    return JSONResponse({"deleted": request.path_params["name"]})


def build_app(authenticators: Sequence[Authenticator], writer: AuditWriter | None, bind_host: str = "127.0.0.1",
              **options: Any) -> Starlette:  # fmt: skip
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "audit": writer.stats() if writer is not None else None})

    routes = [
        Route("/healthz", healthz),
        Route("/api/v1/runs", list_runs, methods=["GET"]),
        Route("/api/v1/runs", start_run, methods=["POST"]),
        Route("/api/v1/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
        Route("/api/v1/workflows/{name}", delete_workflow, methods=["DELETE"]),
        Route("/api/v1/plugins", list_runs, methods=["GET"]),
    ]
    middleware = [Middleware(SecurityMiddleware, authenticators=authenticators, policy=ROUTE_ROLES,
                             bind_host=bind_host, audit=writer, **options)]  # fmt: skip
    return Starlette(routes=routes, middleware=middleware)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
