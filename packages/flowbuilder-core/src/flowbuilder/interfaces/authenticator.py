"""The Authenticator interface: who is calling the server, and with which role (issue 13).

``flowbuilder serve`` (REST and gRPC) turns the credential of each call (the ``Bearer``
token of an ``Authorization`` header, or gRPC's ``authorization`` metadata) into a
:class:`Principal` by asking each authenticator in turn; the first that recognises it
answers. flowbuilder-ui ships one that checks API tokens configured in flowbuilder.toml;
a plugin adds another (OIDC, a company's SSO) through the ``flowbuilder_authenticators``
hook that flowbuilder-ui declares. ``contracts/`` holds the suite every authenticator passes
(``AuthenticatorContract``).

Roles are ordered: ``viewer`` < ``operator`` < ``admin``; a role allows everything a
lower one does (:meth:`Role.allows`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar


class Role(str, Enum):
    """What a principal may do: read (viewer), steer runs (operator), administer (admin)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may (admin implies operator implies viewer)."""
        return _RANKS[self] >= _RANKS[needed]

    @classmethod
    def parse(cls, text: object, where: str = "role") -> Role:
        """A role from its name; one-line ConfigurationError naming the choices otherwise."""
        from flowbuilder.errors import ConfigurationError

        for role in cls:
            if text == role.value:
                return role
        raise ConfigurationError(f"{where}: {text!r} is not a role; use one of viewer, operator, admin")


_RANKS = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a credential belongs to: a ``name`` for the audit log (a token's name, an OIDC
    subject; never the credential itself), its ``role``, and which authenticator said so."""

    name: str
    role: Role
    authenticator: str = ""


class Authenticator(ABC):
    """Recognises credentials. Instances come from the ``flowbuilder_authenticators`` hook
    (called once when the server starts) and are then called directly for every request, from
    any thread, so :meth:`authenticate` must be thread-safe and fast (no network call per
    request without a cache of its own)."""

    name: ClassVar[str]
    """Short name shown in logs and the audit log (``tokens``, ``oidc``)."""

    @abstractmethod
    def authenticate(self, credential: str) -> Principal | None:
        """The principal ``credential`` (the bearer token, without ``Bearer``) belongs to, or
        None when this authenticator does not recognise it.

        Compare secrets in constant time (:func:`hmac.compare_digest`), never put the
        credential or any part of it into an exception or a log, and return None rather than
        raise for malformed input (empty, huge, binary-looking text): the server asks the
        next authenticator, then answers 401.
        """

    def is_configured(self) -> bool:
        """Whether this authenticator can recognise anyone (it has tokens, an issuer...).

        The server refuses to listen beyond loopback unless at least one authenticator is
        configured, and runs with authentication off only on loopback when none is.
        Default: True.
        """
        return True


__all__ = ["Authenticator", "Principal", "Role"]
