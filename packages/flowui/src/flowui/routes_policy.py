"""The role each REST route needs: ONE table that the security middleware reads.

Route handlers carry no auth logic. A request is matched by method and path template
(``/api/v1/runs/{run_id}``, FastAPI's templates, as the route was declared); the role
needed is ``viewer`` (reading), ``operator`` (starting and steering runs, adding
annotations, validating) or ``admin`` (storing workflow versions, listing installed
plugins, reading the audit log). Roles are ordered: an admin may do what an operator may, an operator what a
viewer may. :func:`required_role` answers for a route not in the table with ``admin`` (so a
route added without a policy is closed rather than open), and ``tests/test_routes_policy.py``
fails when an app route has no entry.
"""

from __future__ import annotations

import re
from typing import Literal

Role = Literal["viewer", "operator", "admin"]

ROLE_ORDER: tuple[Role, ...] = ("viewer", "operator", "admin")
"""Weakest first: a role may do everything the roles before it may."""

API = "/api/v1"

ROUTE_ROLES: dict[tuple[str, str], Role] = {
    # service
    ("GET", "/healthz"): "viewer",
    ("GET", "/metrics"): "viewer",
    ("GET", f"{API}/openapi.json"): "viewer",
    ("GET", f"{API}/plugins"): "admin",
    ("GET", f"{API}/stats"): "viewer",
    ("GET", f"{API}/task-types"): "viewer",
    ("GET", f"{API}/audit"): "admin",
    # workflows
    ("GET", f"{API}/workflows"): "viewer",
    ("GET", f"{API}/workflows/{{name}}"): "viewer",
    ("POST", f"{API}/workflows/validate"): "viewer",
    ("GET", f"{API}/workflows/{{name}}/versions"): "viewer",
    ("POST", f"{API}/workflows/{{name}}/versions"): "admin",
    ("GET", f"{API}/workflows/{{name}}/stats"): "viewer",
    # runs
    ("POST", f"{API}/runs"): "operator",
    ("GET", f"{API}/runs"): "viewer",
    ("GET", f"{API}/runs/{{run_id}}"): "viewer",
    ("GET", f"{API}/runs/{{run_id}}/definition"): "viewer",
    ("GET", f"{API}/runs/{{run_id}}/events"): "viewer",
    ("GET", f"{API}/runs/{{run_id}}/events/stream"): "viewer",
    ("GET", f"{API}/runs/{{run_id}}/logs"): "viewer",
    ("GET", f"{API}/runs/{{run_id}}/logs/stream"): "viewer",
    ("GET", f"{API}/runs/{{run_id}}/outputs"): "viewer",
    ("GET", f"{API}/runs/{{run_id}}/annotations"): "viewer",
    ("POST", f"{API}/runs/{{run_id}}/annotations"): "operator",
    ("GET", f"{API}/runs/{{run_id}}/anomalies"): "viewer",
    # control
    ("POST", f"{API}/runs/{{run_id}}/cancel"): "operator",
    ("POST", f"{API}/runs/{{run_id}}/pause"): "operator",
    ("POST", f"{API}/runs/{{run_id}}/unpause"): "operator",
    ("POST", f"{API}/runs/{{run_id}}/signal"): "operator",
    ("POST", f"{API}/runs/{{run_id}}/resume"): "operator",
    ("POST", f"{API}/runs/{{run_id}}/retry"): "operator",
}


PUBLIC_PATHS: tuple[str, ...] = ("/healthz", "/", "/index.html", "/favicon.ico", "/assets/*")
"""Paths that need no token: the health check (load balancers and probes carry none) and the
web UI's shell and hashed assets, which hold no data (the UI routes by ``#/...``, so a browser
only ever loads ``/``; every figure it shows comes from ``/api``, which needs a role)."""


def protected_routes() -> dict[tuple[str, str], Role]:
    """:data:`ROUTE_ROLES` without the :data:`PUBLIC_PATHS` (what the security middleware enforces)."""
    return {route: role for route, role in ROUTE_ROLES.items() if route[1] not in PUBLIC_PATHS}


_PARAM = re.compile(r"\\{[a-z_]+\\}")
_TEMPLATES = sorted({path for _, path in ROUTE_ROLES}, key=lambda path: (path.count("{"), -len(path)))
_MATCHERS = [(re.compile("^" + _PARAM.sub("[^/]+", re.escape(path)) + "$"), path) for path in _TEMPLATES]


def route_template(path: str) -> str | None:
    """The template of the table that a request path matches (literal routes before ones with
    parameters, as the app routes them); None when none does. For a middleware that runs
    before routing and so has no ``scope["route"]``."""
    for pattern, template in _MATCHERS:
        if pattern.match(path):
            return template
    return None


def required_role(method: str, path_template: str) -> Role:
    """The role a request needs; ``admin`` for a route the table does not name (closed by default).

    ``HEAD`` is treated as ``GET``.
    """
    method = "GET" if method.upper() == "HEAD" else method.upper()
    return ROUTE_ROLES.get((method, path_template), "admin")


def role_allows(held: Role, needed: Role) -> bool:
    """Whether a caller holding ``held`` may do what ``needed`` guards."""
    return ROLE_ORDER.index(held) >= ROLE_ORDER.index(needed)


__all__ = [
    "API",
    "PUBLIC_PATHS",
    "ROLE_ORDER",
    "ROUTE_ROLES",
    "Role",
    "protected_routes",
    "required_role",
    "role_allows",
    "route_template",
]
