"""Stores that ship with core (only ``memory://``; durable ones come from flowbuilder-storage)."""

from __future__ import annotations

import sys


def is_memory_store(store: object) -> bool:
    """Whether ``store`` is exactly core's :class:`~flowbuilder.stores.memory.MemoryStore` (not a subclass).

    Asked of ``sys.modules`` rather than by importing the class: no object is a
    ``MemoryStore`` unless its module is loaded, so a run on another store (RocksDB, Redis)
    leaves that module, and the audit records it imports, unloaded (issue 10: start-up).
    """
    memory = sys.modules.get("flowbuilder.stores.memory")
    return memory is not None and type(store) is memory.MemoryStore


__all__ = ["is_memory_store"]
