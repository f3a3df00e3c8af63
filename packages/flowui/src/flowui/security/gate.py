"""Who is calling and whether they may: the rules REST and gRPC share.

:class:`AccessGate` turns an ``Authorization`` value into a
:class:`~flowbuilder.interfaces.authenticator.Principal` (asking each authenticator in
turn) and checks it against the role a call needs. With no authenticator configured it is
**off** — every caller is the local admin — which :func:`~flowui.security.binding.check_bind`
allows only when the server listens on loopback; it says so in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from flowbuilder.interfaces.authenticator import Authenticator, Principal, Role
from flowui.security.binding import authentication_configured, check_bind

LOCAL_ADMIN = Principal("local", Role.ADMIN, "off")
"""Everyone, when authentication is off (loopback only, no tokens configured)."""
ANONYMOUS = "anonymous"
"""The audit log's actor for a caller nobody recognised."""

log = logging.getLogger("flowui.security")
_WARNED_OFF: set[str] = set()
"""The listening hosts already warned about (see :class:`AccessGate`)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call was refused: ``status`` 401 (who are you?) or 403 (not allowed), a one-line
    ``reason`` for the caller, and the role it needed (403)."""

    status: int
    reason: str
    needed: Role | None = None


class AccessGate:
    """Authentication and authorisation for one server (built once at start-up)."""

    def __init__(self, authenticators: Sequence[Authenticator], bind_host: str):
        check_bind(bind_host, authenticators)
        self.authenticators = tuple(authenticators)
        self.off = not authentication_configured(self.authenticators)
        if self.off and bind_host not in _WARNED_OFF:
            _WARNED_OFF.add(bind_host)  # REST and gRPC each have a gate: one warning per server is enough
            log.warning("authentication is off: no API token or other authenticator is configured and the server"
                        " listens on %s (loopback) only, so every local caller is admin; add tokens with"
                        " `flowbuilder token new` to require them", bind_host)  # fmt: skip

    def identify(self, authorization: str | None) -> Principal | Refusal:
        """The principal of an ``Authorization`` value (``Bearer TOKEN``), or a 401 refusal."""
        if self.off:
            return LOCAL_ADMIN
        if not authorization:
            return Refusal(401, "this call needs an API token: send `Authorization: Bearer TOKEN`")
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return Refusal(401, "the Authorization header must be `Bearer TOKEN`")
        for authenticator in self.authenticators:
            try:
                principal = authenticator.authenticate(credential)
            except Exception as error:  # an authenticator's failure is a refusal, never a 500
                log.warning("authenticator %r failed: %s", authenticator.name, type(error).__name__)
                continue
            if principal is not None:
                return principal
        return Refusal(401, "the API token is not valid (unknown, revoked or mistyped)")

    @staticmethod
    def authorize(principal: Principal, needed: Role) -> Refusal | None:
        """None when ``principal`` may do what ``needed`` may, else a 403 naming the role needed."""
        if principal.role.allows(needed):
            return None
        return Refusal(403, f"this call needs the {needed.value} role; {principal.name!r} has {principal.role.value}",
                       needed)  # fmt: skip


__all__ = ["ANONYMOUS", "LOCAL_ADMIN", "AccessGate", "Refusal"]
