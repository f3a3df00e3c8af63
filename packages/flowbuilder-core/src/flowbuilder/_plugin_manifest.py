"""What each plugin's named hooks returned, remembered so that a plugin's classes load when used.

Why: the host asks a named hook (``flowbuilder_task_types``, ``flowbuilder_stores``, ...)
of every plugin to build its name → class map, and most hooks import their classes as they
return them. ``flowbuilder run`` of a one-shell-task workflow paid for every installed
task type (an example plugin's checksum type), both stores' modules (Redis's included
while the store is RocksDB) and so on: a third of its start-up. What a hook returned is a
list of classes, each found again by ``module`` and ``qualname``; this module keeps those
names, per hook and plugin, so that :class:`~flowbuilder.plugins.PluginHost` can answer
"which task types / store schemes / runners exist, and who provides each" without calling
the hooks, and import a class only when it is used (see ``_LazyNamed`` in
:mod:`flowbuilder.plugins`). The hooks are still how plugins register: the first process
after any change calls them as always and records what they returned.

An entry is used only when all of these are as they were when it was stored — the key is a
SHA-256 over the first four, the last is checked file by file:

* core's version and the Python version;
* what is installed (:func:`~flowbuilder._entry_point_cache.installed_fingerprint`:
  distributions, versions, entry points, editable installs);
* the registered plugins, in order: name, module, distribution and version;
* the hooks each plugin implements (by implementation function);
* the modification time and size of every plugin module and of every module a recorded
  class comes from (editing a plugin's source invalidates it, editable installs included).

A hook is recorded only when every item it returned is a class reachable as
``module.qualname`` (not one made inside a function) whose declared attributes
(:data:`DECLARED`) are plain values; otherwise it is called every time, as before. Nothing
stored is executed or unpickled: the file is read with :func:`json.loads` and checked field
by field, module and attribute names must be dotted identifiers, and an imported class is
used only if it still declares the recorded name. A file of any other shape is a miss and
is rewritten. The directory is the one of the other caches
(:func:`~flowbuilder._entry_point_cache.cache_directory`); ``FLOWBUILDER_NO_CACHE=1``
turns it off, and so does ``FLOWBUILDER_TRACE_PLUGINS`` (a trace shows every hook call).
"""

from __future__ import annotations

import json
import os
import re
import sys
from importlib import import_module
from pathlib import Path
from typing import Any, Iterable, Mapping

from flowbuilder._entry_point_cache import cache_directory, installed_fingerprint
from flowbuilder._frozen_record import FrozenRecord
from flowbuilder._sha256 import new_sha256, sha256_hex
from flowbuilder._validation_cache import sources_unchanged
from flowbuilder._version import __version__

CACHE_FORMAT = 1
DECLARED = ("default_priority", "default_concurrency")
"""Class attributes kept beside each name, so that choosing among the classes imports none:
a store's priority picks the default store, a task type's default concurrency is a runner's
implicit pool. Only plain values (``int``, ``str``, ``bool``, ``None``) are kept."""
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_PLAIN = (int, str, bool, type(None))


class ProvidedItem(FrozenRecord):
    """One class a named hook returned: its name, the plugin that gave it, and where it lives."""

    __slots__ = ("name", "owner", "module", "qualname", "declared")
    name: str
    owner: str
    module: str
    qualname: str
    declared: Mapping[str, Any]

    def __init__(self, name: str, owner: str, module: str, qualname: str, declared: Mapping[str, Any]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "qualname", qualname)
        object.__setattr__(self, "declared", declared)

    def load(self, key: str) -> Any:
        """Import the class; ``LookupError`` when it is not there or no longer declares :attr:`name`."""
        found: Any = import_module(self.module)
        for part in self.qualname.split("."):
            found = getattr(found, part)
        if not isinstance(found, type) or getattr(found, key, None) != self.name:
            raise LookupError(f"{self.module}.{self.qualname} no longer provides {self.name!r}")
        return found


def _plugin_file(plugin: Any) -> str | None:
    file = getattr(plugin, "__file__", None) if isinstance(plugin, type(sys)) else None
    return file if isinstance(file, str) else None


def _stamp(file: str) -> list[Any] | None:
    try:
        info = os.stat(file)
    except OSError:
        return None
    return [file, info.st_mtime_ns, info.st_size]


class PluginManifest:
    """The recorded named hooks of one set of registered plugins; None from :meth:`for_plugins` when unusable."""

    def __init__(self, path: Path, key: str, plugin_sources: list[list[Any]]):
        self.path = path
        self.key = key
        self.plugin_sources = plugin_sources
        self.hooks: dict[str, list[ProvidedItem]] = {}
        self.sources: list[list[Any]] = []

    @classmethod
    def for_plugins(
        cls, plugins: Iterable[tuple[str, Any]], describe: Mapping[str, tuple[str | None, str | None]],
        hooks_of: Mapping[str, list[str]], environ: Mapping[str, str] = os.environ,
    ) -> PluginManifest | None:  # fmt: skip
        """The manifest of these registered plugins (name, module object), read from disk when valid.

        None when caching is off or a plugin is not a module with a source file (a plugin
        object registered in-process, e.g. by a test: nothing on disk says what it is).
        """
        directory = cache_directory(environ)
        if directory is None:
            return None
        digest = new_sha256(f"{CACHE_FORMAT}\0{__version__}\0{sys.version}\0{installed_fingerprint()}".encode())
        plugin_sources = []
        for name, plugin in plugins:
            file = _plugin_file(plugin)
            stamp = _stamp(file) if file is not None else None
            if stamp is None:
                return None
            plugin_sources.append(stamp)
            distribution, version = describe.get(name, (None, None))
            record = [name, plugin.__name__, file, distribution, version, hooks_of.get(name, [])]
            digest.update(json.dumps(record).encode("utf-8", "surrogateescape") + b"\0")
        key = digest.hexdigest()
        environment = sha256_hex(sys.prefix.encode())[:16]
        manifest = cls(directory / f"plugin-manifest-{environment}.json", key, plugin_sources)
        manifest._read()
        return manifest

    def _read(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return
        hooks = _decode(data, self.key)
        if hooks is None or not sources_unchanged(data.get("sources")):
            return
        self.hooks = hooks
        self.sources = data["sources"]

    def get(self, hook_name: str) -> list[ProvidedItem] | None:
        return self.hooks.get(hook_name)

    def record(self, hook_name: str, key: str, found: Mapping[str, Any], owners: Mapping[str, str]) -> None:
        """Remember what ``hook_name`` returned (skipped when an item cannot be found again by name)."""
        items = []
        sources = {entry[0]: entry for entry in [*self.plugin_sources, *self.sources]}
        for name, item in found.items():
            module_name = getattr(item, "__module__", None)
            qualname = getattr(item, "__qualname__", None)
            if not isinstance(item, type) or not isinstance(module_name, str) or not isinstance(qualname, str):
                return
            if not _DOTTED.match(module_name) or not _DOTTED.match(qualname):
                return  # e.g. a class made inside a function: `<locals>` cannot be imported
            module = sys.modules.get(module_name)
            file = getattr(module, "__file__", None)
            stamp = _stamp(file) if isinstance(file, str) else None
            if stamp is None:
                return
            declared = {}
            for attribute in DECLARED:
                if hasattr(item, attribute):
                    value = getattr(item, attribute)
                    if type(value) not in _PLAIN:
                        return
                    declared[attribute] = value
            provided = ProvidedItem(name, owners[name], module_name, qualname, declared)
            try:
                if provided.load(key) is not item:
                    return
            except Exception:
                return
            sources.setdefault(file, stamp)
            items.append(provided)
        self.hooks[hook_name] = items
        self.sources = [entry for file, entry in sources.items() if entry not in self.plugin_sources]
        self._write()

    def _write(self) -> None:
        record = {
            "format": CACHE_FORMAT,
            "key": self.key,
            "hooks": {
                hook: [
                    {
                        "name": i.name,
                        "owner": i.owner,
                        "module": i.module,
                        "qualname": i.qualname,
                        "declared": dict(i.declared),
                    }
                    for i in items
                ]
                for hook, items in self.hooks.items()
            },
            "sources": [*self.plugin_sources, *self.sources],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(record), encoding="utf-8")
            os.replace(partial, self.path)  # readers see the old file or the new one, never half of one
        except OSError:
            pass


def _decode(data: Any, key: str) -> dict[str, list[ProvidedItem]] | None:
    """The hooks stored under ``key``; None for another key or any other shape."""
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("key") != key:
        return None
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return None
    found: dict[str, list[ProvidedItem]] = {}
    for hook_name, items in hooks.items():
        if not isinstance(hook_name, str) or not isinstance(items, list):
            return None
        decoded = []
        for item in items:
            if not isinstance(item, dict):
                return None
            name, owner, module, qualname, declared = (
                item.get(field) for field in ("name", "owner", "module", "qualname", "declared")
            )
            if not (isinstance(name, str) and name and isinstance(owner, str)):
                return None
            if not (isinstance(module, str) and _DOTTED.match(module) and isinstance(qualname, str)
                    and _DOTTED.match(qualname)):  # fmt: skip
                return None
            if not isinstance(declared, dict) or not all(
                attribute in DECLARED and type(value) in _PLAIN for attribute, value in declared.items()
            ):
                return None
            decoded.append(ProvidedItem(name, owner, module, qualname, declared))
        found[hook_name] = decoded
    return found


__all__ = ["DECLARED", "PluginManifest", "ProvidedItem"]
