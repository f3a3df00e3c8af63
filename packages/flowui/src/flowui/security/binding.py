"""Where the server may listen: beyond loopback only with authentication configured."""

from __future__ import annotations

import ipaddress
from typing import Sequence

from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.authenticator import Authenticator


def is_loopback(host: str) -> bool:
    """Whether ``host`` reaches only this machine (``localhost``, 127.0.0.0/8, ``::1``).

    Any other name, ``0.0.0.0``, ``::`` and an empty host are not: they may be reachable
    from elsewhere.
    """
    text = host.strip().strip("[]").lower()
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def authentication_configured(authenticators: Sequence[Authenticator]) -> bool:
    """Whether any authenticator can recognise anyone."""
    return any(authenticator.is_configured() for authenticator in authenticators)


def check_bind(host: str, authenticators: Sequence[Authenticator]) -> None:
    """Raise a one-line ConfigurationError when ``host`` is not loopback and no authentication is configured."""
    if not is_loopback(host) and not authentication_configured(authenticators):
        raise ConfigurationError(
            f"refusing to listen on {host!r} without authentication: add an API token"
            " (`flowbuilder token new --name NAME --role ROLE`, then paste its [[serve.tokens]] lines into"
            " flowbuilder.toml) or listen on 127.0.0.1"
        )


__all__ = ["authentication_configured", "check_bind", "is_loopback"]
