"""Spare a CLI process pydantic's search for its own plugins when none is installed (issue 10).

The first pydantic model a process builds makes pydantic import ``importlib.metadata``
(with ``email``, ``zipfile``, ``csv``, ``shutil`` behind it) and read every installed
distribution's entry points, looking for its ``pydantic`` group
(``pydantic.plugin._loader.get_plugins``): 20-30 ms of CPU in ``flowbuilder run`` of hello,
a tenth of the command. The entry-point cache (:mod:`flowbuilder._entry_point_cache`) can
answer the same question from a small file keyed by what is installed. When it says that no
distribution declares a ``pydantic`` entry point, :func:`skip_pydantic_plugin_scan` adds a
finder to ``sys.meta_path`` that answers the import of that loader module, once, with a
stand-in whose ``get_plugins()`` gives what the real one would find: no plugins. A command
that never builds a model (``flowbuilder --help``) never imports it, so nothing named
``pydantic`` appears in ``sys.modules``; every other import passes the finder by.

Nothing else changes, and it is done only when it cannot change what pydantic does:

* a distribution declares a ``pydantic`` entry point: pydantic loads its plugins as always;
* the user set ``PYDANTIC_DISABLE_PLUGINS``: pydantic reads it as always (the environment is
  never touched, so task processes inherit exactly what they did);
* ``FLOWBUILDER_NO_CACHE`` is set: learning the answer would cost the scan itself;
* pydantic's loader is already imported (a model was built before): its answer is cached.

Any other name asked of the stand-in imports the real module and answers from it, so a
pydantic release that reads more of that module keeps working (only ``get_plugins`` is
stood in for). Like the rest of the plugin host, a long-running command sees a pydantic
plugin installed under it after a restart; pydantic's own loader also keeps the first answer
for the life of the process.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, Mapping, Sequence, cast

if TYPE_CHECKING:
    from importlib.abc import Loader  # the protocol this finder's loader half follows (importing it costs ms)

PYDANTIC_LOADER = "pydantic.plugin._loader"
"""The module whose ``get_plugins()`` pydantic calls at every schema build (pydantic 2.5-2.x)."""
PYDANTIC_ENTRY_POINT_GROUP = "pydantic"


class _NoPydanticPlugins(ModuleType):
    """Stands in for :data:`PYDANTIC_LOADER` when no distribution declares a pydantic plugin."""

    @staticmethod
    def get_plugins() -> tuple[()]:
        """What the real loader returns with no ``pydantic`` entry point installed: nothing."""
        return ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_loader(), name)


def _real_loader() -> ModuleType:
    """Replace the stand-in by pydantic's own module (a pydantic that needs more of it)."""
    from importlib import import_module

    if isinstance(sys.modules.get(PYDANTIC_LOADER), _NoPydanticPlugins):
        del sys.modules[PYDANTIC_LOADER]
    return import_module(PYDANTIC_LOADER)


class _StandInFinder:
    """A ``sys.meta_path`` finder for :data:`PYDANTIC_LOADER` alone, used once, then removed."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: Any = None) -> ModuleSpec | None:
        if fullname != PYDANTIC_LOADER:
            return None
        _remove_finders()
        return ModuleSpec(fullname, cast("Loader", self))

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return _NoPydanticPlugins(spec.name, "pydantic's plugin loader, stood in for: no pydantic plugin is installed")

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the stand-in is complete when made."""


def _remove_finders() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _StandInFinder)]


def skip_pydantic_plugin_scan(environ: Mapping[str, str] = os.environ) -> bool:
    """Stand in for pydantic's plugin loader when the entry-point cache knows of no plugin.

    Returns whether it did. Cheap when it cannot: a few dictionary look-ups, and with the
    cache warm a read of one small JSON file (the installed fingerprint is the one the
    command computed for its own plugins).
    """
    if PYDANTIC_LOADER in sys.modules or "PYDANTIC_DISABLE_PLUGINS" in environ:
        return False
    if any(isinstance(finder, _StandInFinder) for finder in sys.meta_path):
        return True
    from flowbuilder._entry_point_cache import cache_directory, cached_entry_points

    if cache_directory(environ) is None:
        return False
    if cached_entry_points(PYDANTIC_ENTRY_POINT_GROUP, environ):
        return False
    sys.meta_path.insert(0, _StandInFinder())
    return True
