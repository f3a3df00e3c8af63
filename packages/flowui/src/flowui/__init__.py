"""flowbuilder-ui (import ``flowui``): FlowBuilder's server and what it serves.

``flowbuilder serve`` runs an ASGI app with the REST API and its OpenAPI document, the gRPC
API whose protos live in ``contracts/``, and the web UI. Every request goes through core's
run service, subscriptions and control channel: the server holds no orchestration of its own.
"""

from __future__ import annotations

from flowui._version import __version__

__all__ = ["__version__"]
