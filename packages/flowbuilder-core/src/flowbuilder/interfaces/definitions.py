"""The definitions role of a store: workflow files kept by content, so a run can be resumed.

A run records the hash of the exact definition it ran (``run_created``'s
``definition_hash``); resuming reads that definition back rather than the file on disk,
which may have changed since.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from flowbuilder._sha256 import sha256_hex


def definition_hash(content: bytes) -> str:
    """The content address of a workflow definition (hex SHA-256)."""
    return sha256_hex(content)


class DefinitionStore(ABC):
    """Workflow definitions by content hash (saving the same bytes twice is one definition)."""

    @abstractmethod
    def save_definition(self, content: bytes) -> str:
        """Keep a workflow definition by content; return its hash (:func:`definition_hash`)."""

    @abstractmethod
    def load_definition(self, digest: str) -> bytes:
        """The definition with this hash; :class:`~flowbuilder.errors.StoreError` if unknown."""


__all__ = ["DefinitionStore", "definition_hash"]
