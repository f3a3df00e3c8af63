"""A token check for the gRPC server, driven by :mod:`flowui.grpc_api.policy`.

The security layer owns tokens and roles (``flowbuilder.toml``, a hook for OIDC); this
interceptor only asks it one question, ``role_of(token)``, and applies the policy table:

* no ``authorization: Bearer TOKEN`` metadata, or a token ``role_of`` does not know:
  ``UNAUTHENTICATED``;
* a role below the method's (viewer < operator < admin): ``PERMISSION_DENIED``;
* else the call goes on.

Pass it to :func:`flowui.grpc_api.start_grpc_server` (``interceptors=[BearerRoleCheck(role_of)]``).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import grpc

from flowui.grpc_api.policy import ADMIN, OPERATOR, VIEWER, required_role

ROLE_RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}
"""Each role may do what the roles below it may."""


def bearer_token(metadata: Any) -> str | None:
    """The token of an ``authorization: Bearer TOKEN`` entry of a call's metadata, or None."""
    for key, value in metadata or ():
        if key.lower() == "authorization" and isinstance(value, str) and value[:7].lower() == "bearer ":
            return value[7:].strip() or None
    return None


class BearerRoleCheck(grpc.aio.ServerInterceptor):
    """Refuses calls whose bearer token's role is below what :func:`~flowui.grpc_api.policy.required_role` asks.

    ``role_of`` maps a token to its role (``viewer``, ``operator``, ``admin``) or None for
    an unknown token; it is called once per call, on the event loop, so it must not block.
    """

    def __init__(self, role_of: Callable[[str], str | None]):
        self.role_of = role_of

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:  # no such method: grpc answers UNIMPLEMENTED
            return None
        method = handler_call_details.method
        token = bearer_token(handler_call_details.invocation_metadata)
        role = self.role_of(token) if token is not None else None
        if role is None:
            return _refusal(handler, grpc.StatusCode.UNAUTHENTICATED,
                            "send a valid API token as `authorization: Bearer TOKEN` metadata")  # fmt: skip
        needed = required_role(method)
        if ROLE_RANK.get(role, 0) < ROLE_RANK[needed]:
            return _refusal(handler, grpc.StatusCode.PERMISSION_DENIED,
                            f"{method.rsplit('/', 1)[-1]} needs the {needed} role; this token is {role}")  # fmt: skip
        return handler


def _refusal(handler: Any, code: grpc.StatusCode, details: str) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same shape as ``handler`` that ends the call with ``code``."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, details)

    serializers = {"request_deserializer": getattr(handler, "request_deserializer", None),
                   "response_serializer": getattr(handler, "response_serializer", None)}  # fmt: skip
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse, **serializers)  # grpc.aio: a coroutine may stream
    return grpc.unary_unary_rpc_method_handler(refuse, **serializers)


__all__ = ["ROLE_RANK", "BearerRoleCheck", "bearer_token"]
