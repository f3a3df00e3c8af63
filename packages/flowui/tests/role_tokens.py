"""One fresh API token per role, and the authenticator that knows them.

Shared by the REST middleware and gRPC interceptor tests, which check the same rules on
the two transports and so need the same callers.
"""

from __future__ import annotations

from flowbuilder.interfaces.authenticator import Role
from flowui.tokens import TokenAuthenticator, TokenEntry, new_token

TOKENS = {role: new_token() for role in ("viewer", "operator", "admin")}
"""role -> (the token a caller sends, its SHA-256 digest as configured)."""
AUTHENTICATORS = [TokenAuthenticator([TokenEntry(f"{role}-token", Role(role), digest)
                                      for role, (_, digest) in TOKENS.items()])]  # fmt: skip


def bearer(role: str) -> dict[str, str]:
    """The HTTP header of ``role``'s token."""
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}
