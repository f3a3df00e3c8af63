"""The ASGI application: FastAPI routers under ``/api/v1``, probes at the root, limits outside.

:func:`create_app` is the one place the app is assembled. ``middleware`` wraps it from the
inside out (the last one given is the outermost), so the integrator adds security (auth,
audit, headers, CSRF) without touching a handler::

    app = create_app(context, middleware=[audit_log, token_auth, security_headers])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from flowui.request_limits import MAX_BODY_BYTES, ASGIApp, RequestLimits
from flowui.routes_policy import API

if TYPE_CHECKING:
    from flowui.api_context import ApiContext

Middleware = Callable[[ASGIApp], ASGIApp]


def create_fastapi(context: ApiContext) -> ASGIApp:
    """The FastAPI app alone (routes, error shapes, OpenAPI 3.1 at /api/v1/openapi.json)."""
    from fastapi import FastAPI

    from flowui import __version__
    from flowui.api_errors import install_error_handlers
    from flowui.routes import audit, control, history, live, runs, service, task_types, workflows
    from flowui.schemas import ErrorBody

    app = FastAPI(title="FlowBuilder", version=__version__, openapi_url=f"{API}/openapi.json",
                  docs_url=None, redoc_url=None,  # Swagger UI loads from a CDN: the web UI will serve its own
                  description="FlowBuilder's REST API: workflows, runs, run control, live events.")  # fmt: skip
    app.state.context = context
    install_error_handlers(app)
    errors = {status: {"model": ErrorBody} for status in (400, 404, 409, 413, 422, 500, 503)}
    app.include_router(service.probes, responses=errors)  # type: ignore[arg-type]
    routers = (workflows.router, history.router, runs.router, control.router, live.router, service.router,
               task_types.router, audit.router)  # fmt: skip
    for router in routers:
        app.include_router(router, prefix=API, responses=errors)  # type: ignore[arg-type]
    from flowui.web import mount_web_ui

    mount_web_ui(app)  # last: its catch-all serves the UI on every path no route above took
    return app


def create_app(context: ApiContext, *, middleware: Sequence[Middleware] = (),
               max_body_bytes: int = MAX_BODY_BYTES) -> ASGIApp:  # fmt: skip
    """The server's ASGI app: request limits around the FastAPI app, then ``middleware`` in order
    (each wraps what came before; the last is outermost and sees a request first)."""
    app: ASGIApp = RequestLimits(create_fastapi(context), max_body_bytes=max_body_bytes)
    for wrap in middleware:
        app = wrap(app)
    return app


__all__ = ["Middleware", "create_app", "create_fastapi"]
