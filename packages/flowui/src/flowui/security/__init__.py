"""The server's security layer, usable on any ASGI app and any grpcio server (issue 13).

* :class:`SecurityMiddleware` (pure ASGI): bearer tokens -> principal -> role check against
  a policy you pass in, 401/403 as JSON, CSRF refusal of cross-origin mutating requests,
  strict security headers, and an audit record for every mutating call, allowed or refused;
* :class:`AuditWriter`: hands audit records to the store on a thread of its own through a
  bounded queue, so a slow or dead store never holds a request; it counts what it drops;
* :func:`check_bind`: refuses to listen beyond loopback without authentication;
* :class:`AuthInterceptor` (and :class:`AsyncAuthInterceptor` for ``grpc.aio``): the same
  token, role and audit rules for a grpcio server;
* :class:`AccessGate`: the one place the rules live, shared by both.

Importing this package imports none of them: each loads with its first use (grpcio only for
the interceptor), so ``import flowui`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowui.security.audit_writer import AuditWriter
    from flowui.security.binding import check_bind, is_loopback
    from flowui.security.gate import AccessGate, Refusal
    from flowui.security.grpc_auth import AsyncAuthInterceptor, AuthInterceptor
    from flowui.security.headers import SECURITY_HEADERS
    from flowui.security.middleware import SecurityMiddleware
    from flowui.security.policy import GrpcRolePolicy, HttpRolePolicy, grpc_role_lookup, http_role_lookup

_MODULE_OF = {
    "AccessGate": "gate",
    "AsyncAuthInterceptor": "grpc_auth",
    "AuditWriter": "audit_writer",
    "AuthInterceptor": "grpc_auth",
    "GrpcRolePolicy": "policy",
    "HttpRolePolicy": "policy",
    "Refusal": "gate",
    "SECURITY_HEADERS": "headers",
    "SecurityMiddleware": "middleware",
    "check_bind": "binding",
    "grpc_role_lookup": "policy",
    "http_role_lookup": "policy",
    "is_loopback": "binding",
}

__all__ = [
    "SECURITY_HEADERS",
    "AccessGate",
    "AsyncAuthInterceptor",
    "AuditWriter",
    "AuthInterceptor",
    "GrpcRolePolicy",
    "HttpRolePolicy",
    "Refusal",
    "SecurityMiddleware",
    "check_bind",
    "grpc_role_lookup",
    "http_role_lookup",
    "is_loopback",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'flowui.security' has no attribute {name!r}")
    value = getattr(import_module(f"flowui.security.{module}"), name)
    globals()[name] = value
    return value
