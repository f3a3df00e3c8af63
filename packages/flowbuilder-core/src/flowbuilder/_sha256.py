"""SHA-256 for the start-up caches' keys without importing :mod:`hashlib` on every command.

``import hashlib`` loads ``_hashlib``, whose start-up initialises OpenSSL's digests: about
2 ms of CPU on the 2-core VM, paid by every ``flowbuilder`` command since the entry-point
cache keys its file with a digest, and by nothing else on the path of ``validate``
(``run`` imports it anyway: pydantic's ``types`` imports ``secrets``, which imports ``hmac``).
The interpreter's own SHA-256 module (``_sha256``, ``_sha2`` since Python 3.12) gives the
same digest without it, but about five times slower per byte than OpenSSL's, so data of
:data:`BUILTIN_LIMIT` bytes or more (a large workflow file) is hashed by :mod:`hashlib`
after all (about 0.2 ms lost at most, against the import saved), and so is everything once
:mod:`hashlib` is imported.
"""

from __future__ import annotations

import sys
from typing import Protocol

try:  # CPython 3.11
    from _sha256 import sha256 as _builtin_sha256  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - CPython 3.12+, or an interpreter without the module
    try:
        from _sha2 import sha256 as _builtin_sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:
        from hashlib import sha256 as _builtin_sha256  # type: ignore[assignment,unused-ignore]

BUILTIN_LIMIT = 1 << 16
"""From this many bytes on, :mod:`hashlib`'s OpenSSL digest (faster per byte) is used."""


class Sha256(Protocol):
    """What the callers use of a SHA-256 object (``hashlib``'s or the built-in module's)."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


def new_sha256(data: bytes = b"", *, more: int = 0) -> Sha256:
    """A SHA-256 object fed ``data``; ``more`` is how many bytes the caller will add after it.

    Either implementation gives the same digest; the choice is only about cost (see the module).
    """
    if len(data) + more < BUILTIN_LIMIT and "hashlib" not in sys.modules:
        return _builtin_sha256(data)  # type: ignore[no-any-return,unused-ignore]
    import hashlib

    return hashlib.sha256(data)


def sha256_hex(data: bytes) -> str:
    """The SHA-256 hex digest of ``data``."""
    return new_sha256(data).hexdigest()
