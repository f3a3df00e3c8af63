"""``SecurityMiddleware``: authentication, roles, CSRF, security headers and the audit log for any ASGI app.

Wrap any ASGI app (Starlette, FastAPI, a bare callable); it depends on no framework::

    app = SecurityMiddleware(app, authenticators=authenticators_of(host), policy=ROUTE_ROLES,
                             audit=AuditWriter(store), bind_host="127.0.0.1")

or, with Starlette/FastAPI, ``Middleware(SecurityMiddleware, authenticators=..., ...)``.
For each HTTP request (and WebSocket handshake):

1. every response gets the security headers (:mod:`flowui.security.headers`);
2. a mutating request that a browser sent from another origin is refused, 403
   (:mod:`flowui.security.origin`);
3. the role the call needs comes from ``policy`` (method + path template); a path listed
   in ``public`` needs none; anything else the policy does not list needs ``viewer`` to read
   and ``admin`` to change (deny by default);
4. ``Authorization: Bearer TOKEN`` -> principal (401 JSON ``{"error": {"status": 401,
   "reason": ...}}`` with ``WWW-Authenticate: Bearer`` when missing or unknown), then the
   role check (403 JSON naming the role needed). The app finds the principal in
   ``scope["state"]["principal"]`` (Starlette: ``request.state.principal``) and its name
   under ``scope["flowui.principal"]`` (what control requests record as ``by``);
5. after a mutating call ended (its status known), allowed or refused, one
   :class:`~flowbuilder.audit.AuditRecord` goes to ``audit`` (an
   :class:`~flowui.security.audit_writer.AuditWriter`: never waits for the store). Its
   ``detail`` holds the query and the start of the body, masked: the caller's own token,
   secret-looking fields and every run param's value become ``***``
   (:mod:`flowui.security.param_values`).
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Collection, MutableMapping, Sequence

from flowbuilder.audit import AuditRecord, audit_detail
from flowbuilder.interfaces.authenticator import Authenticator, Principal, Role
from flowbuilder.secrets import MIN_SECRET_LENGTH, SecretMasker
from flowui.security.audit_writer import AuditWriter
from flowui.security.gate import ANONYMOUS, AccessGate, Refusal
from flowui.security.headers import with_security_headers
from flowui.security.origin import MUTATING_METHODS, cross_site_reason, normalized_origin, own_origin
from flowui.security.param_values import without_param_values
from flowui.security.policy import HttpRolePolicy, Match, http_role_lookup

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_KEPT_FOR_AUDIT = 64 * 1024
"""Bytes of a mutating request's body held for its audit detail (masked, then cut to
:data:`~flowbuilder.audit.MAX_AUDIT_DETAIL` characters)."""
DEFAULT_PUBLIC = ("/healthz",)
PRINCIPAL_SCOPE_KEY = "flowui.principal"
"""Where the caller's name is left for the app (``flowui.api_context`` reads it)."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _is_public(path: str, public: Collection[str]) -> bool:
    return any(path == entry or (entry.endswith("*") and path.startswith(entry[:-1])) for entry in public)


class SecurityMiddleware:
    """See the module docstring. ``bind_host`` is where the server listens: with no
    authenticator configured it must be loopback (:func:`~flowui.security.binding.check_bind`),
    and then every caller is the local admin."""

    def __init__(self, app: ASGIApp, *, authenticators: Sequence[Authenticator], policy: HttpRolePolicy,
                 bind_host: str, audit: AuditWriter | None = None, public: Collection[str] = DEFAULT_PUBLIC,
                 allowed_origins: Collection[str] = ()):  # fmt: skip
        self.app = app
        self.gate = AccessGate(authenticators, bind_host)
        self.look_up = http_role_lookup(policy)
        self.audit = audit
        self.public = tuple(public)
        self.allowed_origins = frozenset(o for o in map(normalized_origin, allowed_origins) if o is not None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        method = "GET" if scope["type"] == "websocket" else str(scope.get("method", "GET")).upper()
        mutating = method in MUTATING_METHODS
        match = self.look_up(method, path)
        call = _Call(self, scope, method, path, match, mutating)
        needed = match.role
        if needed is None and not _is_public(path, self.public):
            needed = Role.ADMIN if mutating else Role.VIEWER
        if mutating:
            reason = cross_site_reason(_header(scope, b"origin"), _header(scope, b"sec-fetch-site"),
                                       own_origin(str(scope.get("scheme", "http")), _header(scope, b"host") or ""),
                                       self.allowed_origins)  # fmt: skip
            if reason is not None:
                await call.refuse(send, Refusal(403, reason))
                return
        if needed is not None:
            found = self.gate.identify(_header(scope, b"authorization"))
            if isinstance(found, Refusal):
                await call.refuse(send, found)
                return
            call.principal = found
            refusal = self.gate.authorize(found, needed)
            if refusal is not None:
                await call.refuse(send, refusal)
                return
            scope.setdefault("state", {})["principal"] = found
            scope[PRINCIPAL_SCOPE_KEY] = found.name
        await call.run(receive, send)


class _Call:
    """One request on its way through: what the audit record needs once it has ended."""

    def __init__(self, middleware: SecurityMiddleware, scope: Scope, method: str, path: str, match: Match,
                 mutating: bool):  # fmt: skip
        self.middleware = middleware
        self.scope = scope
        self.method = method
        self.path = path
        self.match = match
        self.mutating = mutating
        self.principal: Principal | None = None
        self.status = 500  # until the app answers: an app that raises before answering failed
        self.body = bytearray()
        self.audited = False

    def _send_with_headers(self, send: Send) -> Send:
        path = self.path

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = int(message["status"])
                message["headers"] = with_security_headers(list(message.get("headers") or ()), path)
            elif message["type"] == "http.response.body" and not message.get("more_body", False) and self.mutating:
                self._audit_once(self._detail())  # queued before the caller can see the answer end
            await send(message)

        return send_secured

    def _receive_kept(self, receive: Receive) -> Receive:
        async def receive_and_keep() -> Message:
            message = await receive()
            if message.get("type") == "http.request" and len(self.body) < BODY_KEPT_FOR_AUDIT:
                self.body += bytes(message.get("body") or b"")[: BODY_KEPT_FOR_AUDIT - len(self.body)]
            return message

        return receive_and_keep

    async def run(self, receive: Receive, send: Send) -> None:
        if not self.mutating:
            await self.middleware.app(self.scope, receive, self._send_with_headers(send))
            return
        try:
            await self.middleware.app(self.scope, self._receive_kept(receive), self._send_with_headers(send))
        finally:
            self._audit_once(self._detail())  # an app that raised or never finished its answer

    async def refuse(self, send: Send, refusal: Refusal) -> None:
        if self.scope["type"] == "websocket":
            self.status = refusal.status
            await send({"type": "websocket.close", "code": 1008, "reason": refusal.reason[:120]})
        else:
            error: dict[str, Any] = {"status": refusal.status, "reason": refusal.reason}
            if refusal.needed is not None:
                error["needed"] = refusal.needed.value
            body = json.dumps({"error": error}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            if refusal.status == 401:
                headers.append((b"www-authenticate", b'Bearer error="invalid_token"'
                                if _header(self.scope, b"authorization") else b"Bearer"))  # fmt: skip
            secured = self._send_with_headers(send)
            self.status = refusal.status
            if self.mutating:  # before the answer goes out, so the record is queued when the caller sees it
                self._audit_once(f"refused: {refusal.reason}")
            await secured({"type": "http.response.start", "status": refusal.status, "headers": headers})
            await secured({"type": "http.response.body", "body": body})
        if self.mutating:
            self._audit_once(f"refused: {refusal.reason}")

    def _detail(self) -> str:
        query = bytes(self.scope.get("query_string") or b"").decode("latin-1")
        body = without_param_values(bytes(self.body).decode("utf-8", "replace"))
        parts = ([f"query: {query}"] if query else []) + ([f"body: {body}"] if body else [])
        return "; ".join(parts)

    def _audit_once(self, detail: str) -> None:
        writer = self.middleware.audit
        if writer is None or self.audited:
            return
        self.audited = True
        authorization = _header(self.scope, b"authorization") or ""
        credential = authorization.partition(" ")[2].strip()
        masker = SecretMasker([credential] if len(credential) >= MIN_SECRET_LENGTH else [])
        client = self.scope.get("client")
        principal = self.principal
        parameters = self.match.parameters
        target = ",".join(f"{name}={value}" for name, value in parameters.items()) if parameters else self.path
        writer.submit(AuditRecord(
            actor=principal.name if principal is not None else ANONYMOUS,
            role=principal.role.value if principal is not None else "",
            action=f"{self.method} {self.match.template or self.path}",
            target=masker.mask(target),
            outcome=str(self.status),
            client=f"{client[0]}:{client[1]}" if client else "",
            detail=audit_detail(detail, masker),
        ))  # fmt: skip


__all__ = ["BODY_KEPT_FOR_AUDIT", "DEFAULT_PUBLIC", "PRINCIPAL_SCOPE_KEY", "SecurityMiddleware"]
