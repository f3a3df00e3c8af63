"""What the route handlers share: the plugin host, the open store, the ONE run service, and
the server's runs, live feeds and metrics (workflow versions: :mod:`flowui.workflow_catalog`).

Handlers get it from ``request.app.state.context`` (:func:`context_of`). Who is calling is
the security middleware's business: it may put a name under ``scope["flowui.principal"]``,
which control requests record as ``by`` (:func:`principal_of`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowui.live import LiveFeeds
from flowui.local_runs import LocalRuns
from flowui.log_pages import LogPages
from flowui.metrics import ServerMetrics

if TYPE_CHECKING:
    from fastapi import Request

    from flowbuilder.interfaces import Store
    from flowbuilder.plugins import PluginHost
    from flowbuilder.run_service import RunService

PRINCIPAL_SCOPE_KEY = "flowui.principal"
"""ASGI scope key where an auth middleware leaves the caller's name (recorded as ``by``)."""
RESERVED_ANNOTATION_KINDS = frozenset({"audit"})
"""Annotation kinds neither API lets a caller write (the audit log is the security layer's)."""


class ApiContext:
    """The server's long-lived parts, built once by :func:`flowui.server.build_server`."""

    def __init__(self, host: PluginHost, store: Store, service: RunService) -> None:
        self.host = host
        self.store = store
        self.service = service
        self.metrics = ServerMetrics()
        self.runs = LocalRuns(service, self.metrics)
        self.live = LiveFeeds(store)
        self.log_pages = LogPages(store)

    def close(self) -> None:
        """Stop the live feeds and the run service's workers, then close the store."""
        self.live.close()
        try:
            self.service.close()
        finally:
            self.store.close()


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def principal_of(request: Request) -> str | None:
    """The caller's name as the auth middleware set it; None: the service's own ``user@host:pid``."""
    principal = request.scope.get(PRINCIPAL_SCOPE_KEY)
    return principal if isinstance(principal, str) and principal else None


__all__ = ["PRINCIPAL_SCOPE_KEY", "RESERVED_ANNOTATION_KINDS", "ApiContext", "context_of", "principal_of"]
