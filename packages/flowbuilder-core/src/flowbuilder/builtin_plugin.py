"""Core's own plugin: the ``memory://`` store.

Registered through the ``flowbuilder.plugins`` entry point like any third-party plugin, so
``FLOWBUILDER_DISABLE_PLUGINS=core`` really leaves core without it.
"""

from __future__ import annotations

from typing import Any

from flowbuilder.hookspecs import hookimpl


@hookimpl
def flowbuilder_stores() -> list[Any]:
    from flowbuilder.stores.memory import MemoryStore

    return [MemoryStore]
