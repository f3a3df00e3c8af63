"""Which addresses the server may listen on: the one place the "non-loopback needs auth" rule lives.

Binding to anything but loopback exposes run control to the network. Until token auth is
configured (the security middleware, issue 13 item 5), only loopback addresses are allowed;
the integrator of auth changes :func:`check_bind_host`'s ``auth_configured`` argument at its
one caller (:func:`flowui.server.build_server`) and nothing else.
"""

from __future__ import annotations

import ipaddress

from flowbuilder.errors import ConfigurationError

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only listens on this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind_host(host: str, *, auth_configured: bool) -> None:
    """Refuse a non-loopback ``host`` unless auth is configured (ConfigurationError, one line)."""
    if not is_loopback(host) and not auth_configured:
        raise ConfigurationError(f"refusing to listen on {host}: binding to anything but loopback requires auth,"
                                 " which is not configured; use --host 127.0.0.1")  # fmt: skip


__all__ = ["LOOPBACK_NAMES", "check_bind_host", "is_loopback"]
