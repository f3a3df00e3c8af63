"""The SecretProvider interface: where ``${{ secrets.NAME }}`` values come from.

Providers are returned by the ``flowbuilder_secret_providers`` hook, once per run. For each
secret a workflow uses, the providers are asked in order and the first that knows the name
answers; a name nobody knows stops the run before any task starts. Core ships two
(``environment``: ``FLOWBUILDER_SECRET_<NAME>``; ``files``: one file per secret in a
directory); a vault or cloud secret manager is a plugin returning one more.

Values never reach the store: the engine masks them, and common encodings of them, in every
event, log line, error and output before anything is written or shown.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar


class SecretProvider(ABC):
    """Looks secrets up by name. ``contracts/`` holds its test suite (SecretProviderContract)."""

    name: ClassVar[str]
    """Short name shown in errors and ``flowbuilder plugins`` (``environment``, ``vault``)."""

    @abstractmethod
    def get(self, name: str) -> str | None:
        """The secret called ``name``, or None when this provider does not have it.

        ``name`` matches ``[A-Za-z_][A-Za-z0-9_]*`` (checked by the engine before the call).
        Raise :class:`~flowbuilder.errors.ConfigurationError` with a one-line reason when the
        provider itself cannot answer (unreachable, no permission); never put the secret, or
        any part of it, into an exception message.
        """


__all__ = [
    "SecretProvider",
]
