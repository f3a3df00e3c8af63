"""Starting and stopping the gRPC server: both services on one port, beside the REST app.

``grpc.aio`` because the run service is asyncio: runs started here (``ExecuteFlow``,
``StartRun``, ``Resume``, ``Retry``) execute on the loop that serves the calls, the same
loop ``flowbuilder serve`` runs its ASGI app on, so one process serves REST and gRPC and
runs what either starts.

Requests are parsed here rather than by grpc (handlers receive raw bytes), so a request
that is not a valid message (a string field that is not UTF-8, a truncated message) gets
INVALID_ARGUMENT with the reason, not grpc's INTERNAL "Exception deserializing request!".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Sequence

import grpc
from google.protobuf.message import DecodeError

from flowbuilder.errors import ConfigurationError
from flowui.grpc_api._generated import flowbuilder_pb2 as pb
from flowui.grpc_api.runs import Identify, RunServicer, Submit, peer_of
from flowui.grpc_api.workflows import WorkflowServicer

if TYPE_CHECKING:
    from flowbuilder import Store
    from flowbuilder.run_service import RunService

MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""The largest request the server reads (RESOURCE_EXHAUSTED past it): a workflow file of a
few MiB; core's own file limit (64 MiB) is for files on disk, not for calls."""
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The largest message the server sends: one event may carry a task output of up to 16 MiB
(flowrunner's per-output budget), several times that once escaped as JSON text."""

SERVER_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
    ("grpc.max_send_message_length", MAX_RESPONSE_BYTES),
)
CLIENT_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.max_receive_message_length", MAX_RESPONSE_BYTES),
    ("grpc.max_send_message_length", MAX_REQUEST_BYTES),
)
"""Options for a client channel, so that it accepts the largest event the server sends
(grpc's default receive limit is 4 MiB)."""

Handler = Callable[[Any, "grpc.aio.ServicerContext[Any, Any]"], Any]


async def start_grpc_server(service: RunService, store: Store, *, host: str = "127.0.0.1", port: int = 0,
                            interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
                            identify: Identify | None = None,
                            submit: Submit | None = None) -> tuple[grpc.aio.Server, int]:  # fmt: skip
    """Serve ``WorkflowService`` and ``RunService`` on ``host:port`` (0: a free port) and start.

    Call it on the running event loop (the one the runs should execute on). Returns the
    server and the port it bound. ``interceptors`` run before every call (the token check:
    :mod:`flowui.grpc_api.policy` says which role each method needs); ``identify`` names
    the caller of a call for control requests and annotations (default: the peer address);
    ``submit`` starts prepared runs (default: ``service.submit``; ``flowbuilder serve`` passes
    its :class:`~flowui.local_runs.LocalRuns`, so gRPC runs are counted and stopped like REST's).
    Raises :class:`~flowbuilder.errors.ConfigurationError` when the address cannot be bound.
    Stop it with :func:`stop_grpc_server`.
    """
    server = grpc.aio.server(interceptors=list(interceptors), options=list(SERVER_OPTIONS))
    server.add_generic_rpc_handlers(
        (
            service_handler(WorkflowServicer(service.host, store), "WorkflowService"),
            service_handler(RunServicer(service, store, identify or peer_of, submit), "RunService"),
        )
    )
    address = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as error:
        raise ConfigurationError(f"cannot serve gRPC on {address} ({error}); choose another --grpc port") from None
    if bound == 0:
        raise ConfigurationError(f"cannot serve gRPC on {address}; choose another --grpc port")
    await server.start()
    return server, bound


async def stop_grpc_server(server: grpc.aio.Server, grace: float = 5.0) -> None:
    """Stop taking calls and end the open ones after ``grace`` seconds (streams end with CANCELLED).

    Runs started through the server go on: they belong to the run service, which the caller closes."""
    await server.stop(grace)


def service_handler(servicer: object, name: str) -> grpc.GenericRpcHandler:
    """The handlers of service ``name`` of the proto file, calling ``servicer``'s methods."""
    descriptor = pb.DESCRIPTOR.services_by_name[name]
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in descriptor.methods:
        request_type = getattr(pb, method.input_type.name)
        serialize = getattr(pb, method.output_type.name).SerializeToString
        implementation: Handler = getattr(servicer, method.name)
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _parsed_stream(implementation, request_type), response_serializer=serialize
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _parsed_unary(implementation, request_type), response_serializer=serialize
            )
    return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)


async def _parse(raw: bytes, request_type: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
    try:
        return request_type.FromString(raw)
    except DecodeError as error:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                            f"the request is not a valid {request_type.DESCRIPTOR.full_name} message ({error});"
                            " string fields must be UTF-8")  # fmt: skip


def _parsed_unary(implementation: Handler, request_type: Any) -> Callable[..., Awaitable[Any]]:
    async def call(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return await implementation(await _parse(raw, request_type, context), context)

    return call


def _parsed_stream(implementation: Handler, request_type: Any) -> Callable[..., AsyncIterator[Any]]:
    async def call(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        async for item in implementation(await _parse(raw, request_type, context), context):
            yield item

    return call


__all__ = [
    "CLIENT_OPTIONS",
    "MAX_REQUEST_BYTES",
    "MAX_RESPONSE_BYTES",
    "SERVER_OPTIONS",
    "service_handler",
    "start_grpc_server",
    "stop_grpc_server",
]
