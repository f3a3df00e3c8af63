"""``AuthInterceptor``: the REST rules for a grpcio server — token, role, audit.

Pass it to ``grpc.server(..., interceptors=[AuthInterceptor(...)])``, or
:class:`AsyncAuthInterceptor` (same arguments) to ``grpc.aio.server(interceptors=[...])``. Each call's
``authorization`` metadata (``Bearer TOKEN``) goes through the same
:class:`~flowui.security.gate.AccessGate` as REST: no or an unknown token ends the call with
``UNAUTHENTICATED``, a role too low with ``PERMISSION_DENIED`` naming the role needed. The
role an RPC needs comes from ``policy`` (full method name ``/pkg.Service/Method`` or just
``Method`` -> role, or a callable); an RPC it does not list needs ``admin`` (deny by default).
Calls of RPCs that need more than ``viewer`` (or those ``audited`` chooses) are written to the
audit log once they end, allowed or refused, with the gRPC status code as the outcome; a
refused call's detail is its reason, an allowed unary call's the start of its request
(masked like REST's, param values included: :mod:`flowui.security.param_values`).

This module imports grpcio; nothing imports it until the interceptor is asked for.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Any, AsyncIterator, Callable, Iterator, Sequence

import grpc

from flowbuilder.audit import AuditRecord, audit_detail
from flowbuilder.interfaces.authenticator import Authenticator, Principal, Role
from flowbuilder.secrets import MIN_SECRET_LENGTH, SecretMasker
from flowui.security.audit_writer import AuditWriter
from flowui.security.gate import ANONYMOUS, AccessGate, Refusal
from flowui.security.param_values import without_param_values
from flowui.security.policy import GrpcRolePolicy, grpc_role_lookup

_REQUEST_TEXT_KEPT = 16 * 1024
_CODES = {401: grpc.StatusCode.UNAUTHENTICATED, 403: grpc.StatusCode.PERMISSION_DENIED}


def _metadata(details: Any, key: str) -> str | None:
    for name, value in details.invocation_metadata or ():
        if name.lower() == key:
            return value if isinstance(value, str) else bytes(value).decode("latin-1")
    return None


def _code_name(context: Any, fallback: str) -> str:
    code = context.code() if callable(getattr(context, "code", None)) else None
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return fallback


class AuthInterceptor(grpc.ServerInterceptor):
    """See the module docstring; ``bind_host`` is where the server listens (see ``check_bind``)."""

    def __init__(self, *, authenticators: Sequence[Authenticator], policy: GrpcRolePolicy, bind_host: str,
                 audit: AuditWriter | None = None, audited: Callable[[str], bool] | None = None):  # fmt: skip
        self.gate = AccessGate(authenticators, bind_host)
        self.look_up = grpc_role_lookup(policy)
        self.audit = audit
        self.audited = audited or (lambda method: self.needed(method) is not Role.VIEWER)

    def needed(self, method: str) -> Role:
        """The role ``method`` needs (``admin`` when the policy does not list it)."""
        return self.look_up(method) or Role.ADMIN

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:  # unknown method: grpc answers UNIMPLEMENTED itself
            return None
        call, refusal = self.admit(details)
        if refusal is not None:
            return call.refusing(handler, refusal)
        return call.audited(handler) if call.is_audited else handler

    def admit(self, details: Any) -> tuple[_GrpcCall, Refusal | None]:
        """The call of ``details`` with its principal, and why it is refused (None: allowed).

        The one decision both interceptors take; they differ only in how they wrap the handler.
        """
        method: str = details.method
        authorization = _metadata(details, "authorization")
        call = _GrpcCall(self, method, authorization)
        found = self.gate.identify(authorization)
        if isinstance(found, Refusal):
            return call, found
        call.principal = found
        return call, self.gate.authorize(found, self.needed(method))


class AsyncAuthInterceptor(grpc.aio.ServerInterceptor):
    """:class:`AuthInterceptor` for ``grpc.aio`` servers (async handlers); the same rules and arguments."""

    def __init__(self, *, authenticators: Sequence[Authenticator], policy: GrpcRolePolicy, bind_host: str,
                 audit: AuditWriter | None = None, audited: Callable[[str], bool] | None = None):  # fmt: skip
        self.rules = AuthInterceptor(authenticators=authenticators, policy=policy, bind_host=bind_host, audit=audit,
                                     audited=audited)  # fmt: skip

    async def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        call, refusal = self.rules.admit(details)
        if refusal is not None:
            return call.refusing_async(handler, refusal)
        return call.audited_async(handler) if call.is_audited else handler


class _GrpcCall:
    def __init__(self, interceptor: AuthInterceptor, method: str, authorization: str | None):
        self.interceptor = interceptor
        self.method = method
        self.principal: Principal | None = None
        credential = (authorization or "").partition(" ")[2].strip()
        self.masker = SecretMasker([credential] if len(credential) >= MIN_SECRET_LENGTH else [])

    @property
    def is_audited(self) -> bool:
        """Whether the audit log records this call (a writer is configured and the RPC is audited)."""
        return self.interceptor.audit is not None and self.interceptor.audited(self.method)

    def record(self, outcome: str, detail: str, context: Any = None) -> None:
        writer = self.interceptor.audit
        if writer is None or not self.is_audited:
            return
        principal = self.principal
        client = str(context.peer()) if context is not None else ""
        writer.submit(AuditRecord(actor=principal.name if principal is not None else ANONYMOUS,
                                  role=principal.role.value if principal is not None else "", action=self.method,
                                  outcome=outcome, client=client, detail=audit_detail(detail, self.masker)))  # fmt: skip

    @contextmanager
    def recorded(self, request_or_iterator: Any, handler: Any, context: Any) -> Iterator[None]:
        """Record the call once its body ends: its gRPC status, OK, or UNKNOWN when it raised."""
        outcome = "UNKNOWN"
        try:
            yield
            outcome = _code_name(context, "OK")
        except BaseException:
            outcome = _code_name(context, "UNKNOWN")
            raise
        finally:
            self.record(outcome, self._request_text(request_or_iterator, handler, self.method), context)

    def refusing(self, handler: Any, refusal: Refusal) -> Any:
        code = _CODES[refusal.status]

        def refuse(request_or_iterator: Any, context: Any) -> Any:
            self.record(code.name, f"refused: {refusal.reason}", context)
            context.abort(code, refusal.reason)

        return _same_kind(handler, refuse)

    def audited(self, handler: Any) -> Any:
        behaviour = _behaviour_of(handler)

        if handler.response_streaming:

            def stream(request_or_iterator: Any, context: Any) -> Iterator[Any]:
                with self.recorded(request_or_iterator, handler, context):
                    yield from behaviour(request_or_iterator, context)

            return _same_kind(handler, stream)

        def unary(request_or_iterator: Any, context: Any) -> Any:
            with self.recorded(request_or_iterator, handler, context):
                return behaviour(request_or_iterator, context)

        return _same_kind(handler, unary)

    def refusing_async(self, handler: Any, refusal: Refusal) -> Any:
        code = _CODES[refusal.status]

        async def refuse(request_or_iterator: Any, context: Any) -> Any:
            self.record(code.name, f"refused: {refusal.reason}", context)
            await context.abort(code, refusal.reason)

        return _same_kind(handler, refuse)

    def audited_async(self, handler: Any) -> Any:
        behaviour = _behaviour_of(handler)

        if handler.response_streaming:

            async def stream(request_or_iterator: Any, context: Any) -> AsyncIterator[Any]:
                with self.recorded(request_or_iterator, handler, context):
                    produced = behaviour(request_or_iterator, context)
                    if inspect.isasyncgen(produced):
                        async for item in produced:
                            yield item
                    else:  # a handler that writes with context.write() and returns None
                        await produced

            return _same_kind(handler, stream)

        async def unary(request_or_iterator: Any, context: Any) -> Any:
            with self.recorded(request_or_iterator, handler, context):
                return await behaviour(request_or_iterator, context)

        return _same_kind(handler, unary)

    @staticmethod
    def _request_text(request: Any, handler: Any, method: str) -> str:
        if handler.request_streaming:
            return ""
        if isinstance(request, (bytes, bytearray)):
            request = _parsed(bytes(request), method)
        return without_param_values(str(request)[:_REQUEST_TEXT_KEPT])


def _parsed(raw: bytes, method: str) -> Any:
    """``raw`` as the request message of ``method`` when protobuf's default pool knows the method
    (flowui's server hands its interceptors the serialized bytes and parses them itself, so
    its audit details were ``b'...'`` reprs in which no field, ``params_json`` included, could
    be found to mask), else ``raw`` itself."""
    from google.protobuf import descriptor_pool, message_factory

    service, _, name = method.strip("/").rpartition("/")
    try:
        input_type = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name).input_type
        return message_factory.GetMessageClass(input_type).FromString(raw)
    except Exception:  # an unknown method or bytes that are not its message: the bytes, masked as text
        return raw


def _behaviour_of(handler: Any) -> Callable[..., Any]:
    for name in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
        behaviour = getattr(handler, name)
        if behaviour is not None:
            return behaviour  # type: ignore[no-any-return]
    raise TypeError(f"not a grpc method handler: {handler!r}")


def _same_kind(handler: Any, behaviour: Callable[..., Any]) -> Any:
    """A handler like ``handler`` (same streaming and (de)serialisers) that runs ``behaviour``."""
    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(bool(handler.request_streaming), bool(handler.response_streaming))]
    return make(behaviour, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)  # fmt: skip


__all__ = ["AsyncAuthInterceptor", "AuthInterceptor"]
