"""flowui's gRPC API: ``flowbuilder.v1.WorkflowService`` and ``flowbuilder.v1.RunService``.

The protos live in ``contracts/proto/flowbuilder/v1/``; the stubs generated from them are
committed in ``_generated`` (``bash scripts/gen_protos`` rewrites them, a test checks they
match). The integrator starts the server beside the REST app with one call::

    from flowui.grpc_api import start_grpc_server, stop_grpc_server

    server, port = await start_grpc_server(run_service, store, port=50051, interceptors=[token_check])
    ...
    await stop_grpc_server(server)

:mod:`flowui.grpc_api.policy` holds the role each method needs. Importing this package
loads nothing of grpc; the names below load the server on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowui.grpc_api.server import (
        CLIENT_OPTIONS,
        MAX_REQUEST_BYTES,
        MAX_RESPONSE_BYTES,
        start_grpc_server,
        stop_grpc_server,
    )

_FROM_SERVER = ("CLIENT_OPTIONS", "MAX_REQUEST_BYTES", "MAX_RESPONSE_BYTES", "start_grpc_server", "stop_grpc_server")


def __getattr__(name: str) -> Any:
    if name not in _FROM_SERVER:
        raise AttributeError(f"module 'flowui.grpc_api' has no attribute {name!r}")
    from flowui.grpc_api import server

    value = getattr(server, name)
    globals()[name] = value
    return value


__all__ = ["CLIENT_OPTIONS", "MAX_REQUEST_BYTES", "MAX_RESPONSE_BYTES", "start_grpc_server", "stop_grpc_server"]
