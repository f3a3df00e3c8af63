"""What a Python client of the gRPC API imports: the messages, the stubs and a channel.

    from flowui.grpc_api.client import messages, open_channel, stubs

    channel = open_channel("127.0.0.1:50051")
    workflows = stubs.WorkflowServiceStub(channel)
    checked = workflows.ValidateWorkflow(messages.WorkflowSource(yaml=text))

and ``stubs.RunServiceStub(channel).ExecuteFlow`` with a ``messages.StartRunRequest`` streams
a run's events (``examples/grpc_client/client.py`` does both).

A client in another language generates its own from ``contracts/proto/flowbuilder/v1/``.
"""

from __future__ import annotations

import grpc

from flowui.grpc_api._generated import flowbuilder_pb2 as messages
from flowui.grpc_api._generated import flowbuilder_pb2_grpc as stubs
from flowui.grpc_api.server import CLIENT_OPTIONS


def open_channel(address: str) -> grpc.Channel:
    """An insecure channel to ``address`` (``HOST:PORT``) that accepts the largest message the server sends."""
    return grpc.insecure_channel(address, options=list(CLIENT_OPTIONS))


__all__ = ["CLIENT_OPTIONS", "messages", "open_channel", "stubs"]
