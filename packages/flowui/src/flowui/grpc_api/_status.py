"""How errors become gRPC statuses: a code and one line that says what to change.

Bad input is never ``UNKNOWN`` or ``INTERNAL``: the servicers raise :class:`BadRequest` for
what they check themselves, and core's errors map by kind (:func:`status_of`). Only a bug
(an exception that is not a :class:`~flowbuilder.errors.FlowBuilderError`) is ``INTERNAL``,
with a generic message; the traceback goes to the server's log, never to the client.
"""

from __future__ import annotations

import functools
import logging
from typing import AsyncIterator, Awaitable, Callable, TypeVar

import grpc

from flowbuilder.errors import (
    ConfigurationError,
    DuplicateRunError,
    FlowBuilderError,
    RunNotFoundError,
    StoreError,
    WorkflowError,
)
from flowbuilder.params import ParamError
from flowui.workflow_catalog import UnknownWorkflowError

log = logging.getLogger("flowui.grpc")

MAX_DETAIL_CHARS = 1000
"""Details longer than this are cut: a status is a line, not a report."""

S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")


class BadRequest(Exception):
    """A request the servicer refuses: ``code`` (INVALID_ARGUMENT unless said) and the reason."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT):
        super().__init__(message)
        self.code = code


def one_line(text: str) -> str:
    """``text`` on one line, at most :data:`MAX_DETAIL_CHARS` characters."""
    line = "; ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return line if len(line) <= MAX_DETAIL_CHARS else line[: MAX_DETAIL_CHARS - 1] + "…"


def workflow_error_line(error: WorkflowError) -> str:
    """The first located problem, and how many more there are (ValidateWorkflow lists them all)."""
    first = error.diagnostics[0].format() if error.diagnostics else str(error)
    more = len(error.diagnostics) - 1
    return first + (f" (and {more} more problems: ValidateWorkflow lists them)" if more > 0 else "")


def status_of(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status a client gets for ``error``."""
    code = grpc.StatusCode
    if isinstance(error, BadRequest):
        return error.code, one_line(str(error))
    if isinstance(error, WorkflowError):
        return code.INVALID_ARGUMENT, one_line(workflow_error_line(error))
    if isinstance(error, ParamError):
        return code.INVALID_ARGUMENT, one_line(str(error))
    if isinstance(error, (RunNotFoundError, UnknownWorkflowError)):
        return code.NOT_FOUND, one_line(str(error))
    if isinstance(error, DuplicateRunError):
        return code.ALREADY_EXISTS, one_line(str(error))
    if isinstance(error, StoreError):
        from flowui.api_errors import is_store_outage

        if is_store_outage(error):  # the store could not be reached: try again later
            return code.UNAVAILABLE, one_line(str(error))
        return code.INVALID_ARGUMENT, one_line(str(error))  # the store refused the request (a 1,025-character key):
        # UNAVAILABLE made clients retry what can never succeed; REST answers 400 (flowui.api_errors)
    if isinstance(error, (ConfigurationError, FlowBuilderError)):  # the run's state or the server's setup refuses
        return code.FAILED_PRECONDITION, one_line(str(error))
    log.exception("gRPC call failed with an unexpected error", exc_info=error)
    return code.INTERNAL, "internal error in the FlowBuilder server (its log has the details)"


def unary(
    method: Callable[[S, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]],
) -> Callable[[S, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]:
    """Wrap a unary servicer method so that every error ends the call with :func:`status_of`."""

    @functools.wraps(method)
    async def translated(self: S, request: Req, context: grpc.aio.ServicerContext[Req, Resp]) -> Resp:
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            status, details = status_of(error)
            await context.abort(status, details)

    return translated


def streaming(
    method: Callable[[S, Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]],
) -> Callable[[S, Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]]:
    """:func:`unary` for a server-streaming method (an async generator)."""

    @functools.wraps(method)
    async def translated(self: S, request: Req, context: grpc.aio.ServicerContext[Req, Resp]) -> AsyncIterator[Resp]:
        try:
            async for item in method(self, request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            status, details = status_of(error)
            await context.abort(status, details)

    return translated


__all__ = ["BadRequest", "MAX_DETAIL_CHARS", "one_line", "status_of", "streaming", "unary", "workflow_error_line"]
