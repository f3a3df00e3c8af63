"""Every error the API returns has one shape: ``{"error": {"status": N, "reason": "..."}}``.

Core's errors map to statuses here, once: an unknown run is 404, a bad param or an invalid
workflow 422 (with the located errors), a request the run's state refuses (cancel a finished
run, retry a running one) 409, a broken or unreachable store 503, anything else a user caused
400. FastAPI's own validation errors are reshaped to the same body. An unexpected exception
is a 500 with a generic reason (the traceback goes to the server's log, never to the client).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import ConfigurationError, FlowBuilderError, RunNotFoundError, StoreError, WorkflowError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

log = logging.getLogger("flowui.api")


class ApiError(Exception):
    """A 4xx the API raises itself (bad cursor, both or neither of two fields, ...)."""

    def __init__(self, status: int, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.extra = extra


def error_body(status: int, reason: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"status": status, "reason": reason, **extra}}


def located_errors(error: WorkflowError) -> list[dict[str, Any]]:
    """Core's diagnostics as JSON: line and column 1-based, message, hint."""
    return [{"line": d.line, "column": d.column, "message": d.message, "hint": d.hint} for d in error.diagnostics]


def status_of(error: FlowBuilderError) -> int:
    from flowbuilder.params import ParamError

    if isinstance(error, RunNotFoundError):
        return 404
    if isinstance(error, (WorkflowError, ParamError)):
        return 422
    if isinstance(error, StoreError) and is_store_outage(error):
        return 503
    if isinstance(error, (ConfigurationError, StoreError)):
        return 400
    return 409


def is_store_outage(error: StoreError) -> bool:
    """A store that cannot be reached (vs. a request the store refused)."""
    text = str(error).lower()
    return any(
        word in text
        for word in ("cannot reach", "unreachable", "connection", "not reachable", "timed out", "unavailable")
    )


def install_error_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    def respond(status: int, reason: str, **extra: Any) -> JSONResponse:
        from fastapi.responses import JSONResponse

        return JSONResponse(error_body(status, reason, **extra), status_code=status)

    async def on_api_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return respond(error.status, error.reason, **error.extra)

    async def on_flowbuilder_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, FlowBuilderError)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if isinstance(error, WorkflowError):
            return respond(422, f"invalid workflow: {reason}", errors=located_errors(error))
        return respond(status_of(error), reason)

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = error.errors()
        first = problems[0] if problems else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "request"
        return respond(422, f"{where}: {first.get('msg', 'invalid')}")

    async def on_http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        return respond(error.status_code, str(error.detail))

    async def on_recursion(request: Request, error: Exception) -> JSONResponse:
        return respond(400, "request nested too deeply")

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error serving %s %s", request.method, request.url.path)
        return respond(500, f"internal error ({type(error).__name__}); see the server's log")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(FlowBuilderError, on_flowbuilder_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RecursionError, on_recursion)
    app.add_exception_handler(Exception, on_unexpected)


__all__ = ["ApiError", "error_body", "install_error_handlers", "is_store_outage", "located_errors", "status_of"]
