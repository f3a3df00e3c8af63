"""API tokens: flowbuilder-ui's built-in authenticator (``tokens``).

Tokens are configured by their SHA-256 only, never in clear, in ``flowbuilder.toml``::

    [[serve.tokens]]
    name = "ci"                 # shown in the audit log
    role = "operator"           # viewer < operator < admin
    sha256 = "<64 hex digits>"  # of the token

and/or in the TOML file named by ``$FLOWBUILDER_API_TOKENS_FILE`` (same entries, as
``[[tokens]]``), which keeps them out of a checked-in configuration. ``flowbuilder token
new --name N --role R`` prints a fresh token once and the lines to paste.

A presented token is hashed and its digest compared with **every** configured digest with
:func:`hmac.compare_digest`, without stopping at a match, so neither the comparison nor the
number of comparisons reveals how much of a digest matched or which entry it was. Tokens
are random (32 bytes from :mod:`secrets`), so an unsalted SHA-256 is enough: there is no
dictionary to try.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

from flowbuilder.config import Settings
from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.authenticator import Authenticator, Principal, Role

TOKENS_FILE_VARIABLE = "FLOWBUILDER_API_TOKENS_FILE"
TOKEN_PREFIX = "fbt_"  # noqa: S105 -- a marker, not a credential
"""Every token ``token new`` makes starts with it, so a leaked one is easy to search for."""
MAX_TOKEN_LENGTH = 4096
"""Longer credentials are not hashed at all: nobody's token is that long."""
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}\Z")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}\Z")


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One configured token: who it is (``name``), its ``role``, the SHA-256 of the token."""

    name: str
    role: Role
    sha256: str


def hash_token(token: str) -> str:
    """The hex SHA-256 of ``token`` (what the configuration keeps)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token and its hex SHA-256."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def check_token_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"token name {name!r} is not valid; use letters, digits and _ . @ : - (up to 128)")
    return name


def _entry(raw: Any, where: str) -> TokenEntry:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where}: each token is a table with name, role and sha256")
    unknown = sorted(set(raw) - {"name", "role", "sha256"})
    if unknown:
        hint = " (keep only its sha256: `flowbuilder token new` prints it)" if "token" in unknown else ""
        raise ConfigurationError(f"{where}: unknown key {unknown[0]!r} in a token{hint}")
    name = raw.get("name")
    try:
        name = check_token_name(name)
    except ConfigurationError as error:
        raise ConfigurationError(f"{where}: {error}") from None
    role = Role.parse(raw.get("role"), f"{where}: token {name!r} role")
    digest = raw.get("sha256")
    if not isinstance(digest, str) or not _HEX_DIGEST.match(digest.lower()):
        raise ConfigurationError(f"{where}: token {name!r} sha256 must be 64 hex digits (`flowbuilder token new`)")
    return TokenEntry(name, role, digest.lower())


def _entries_of(raw: Any, where: str) -> list[TokenEntry]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigurationError(f"{where}: tokens must be an array of tables ([[{where.split()[-1]}]])")
    return [_entry(item, where) for item in raw]


def _tokens_file(environ: Mapping[str, str]) -> list[TokenEntry]:
    path = environ.get(TOKENS_FILE_VARIABLE)
    if not path:
        return []
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(f"{TOKENS_FILE_VARIABLE}={path}: cannot read ({error.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{TOKENS_FILE_VARIABLE}={path}: {error}; fix the TOML syntax") from None
    return _entries_of(data.get("tokens"), f"{path}: tokens")


def configured_tokens(settings: Settings, environ: Mapping[str, str] = os.environ) -> list[TokenEntry]:
    """The tokens of ``[[serve.tokens]]`` and of ``$FLOWBUILDER_API_TOKENS_FILE``; one-line
    ConfigurationError for a malformed entry, a name or a digest given twice."""
    entries = _entries_of(settings.section("serve").get("tokens"), "flowbuilder.toml: serve.tokens")
    entries += _tokens_file(environ)
    names: set[str] = set()
    digests: set[str] = set()
    for entry in entries:
        if entry.name in names:
            raise ConfigurationError(f"token name {entry.name!r} is configured twice; names must be unique")
        if entry.sha256 in digests:
            raise ConfigurationError(f"token {entry.name!r} has the same sha256 as another token; make a new one")
        names.add(entry.name)
        digests.add(entry.sha256)
    return entries


class TokenAuthenticator(Authenticator):
    """Recognises the configured API tokens (see the module docstring)."""

    name: ClassVar[str] = "tokens"

    def __init__(self, entries: Sequence[TokenEntry]):
        self._entries = tuple(entries)
        self._digests = tuple(bytes.fromhex(entry.sha256) for entry in self._entries)

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str] = os.environ) -> TokenAuthenticator:
        return cls(configured_tokens(settings, environ))

    def is_configured(self) -> bool:
        return bool(self._entries)

    def authenticate(self, credential: str) -> Principal | None:
        if not isinstance(credential, str) or not credential or len(credential) > MAX_TOKEN_LENGTH:
            return None
        presented = hashlib.sha256(credential.encode("utf-8", "surrogatepass")).digest()
        found: TokenEntry | None = None
        for entry, digest in zip(self._entries, self._digests, strict=True):
            if hmac.compare_digest(presented, digest) and found is None:  # no early exit: every digest is compared
                found = entry
        return None if found is None else Principal(found.name, found.role, self.name)


__all__ = [
    "MAX_TOKEN_LENGTH",
    "TOKENS_FILE_VARIABLE",
    "TOKEN_PREFIX",
    "TokenAuthenticator",
    "TokenEntry",
    "check_token_name",
    "configured_tokens",
    "hash_token",
    "new_token",
]
