"""The plugins' entry points, remembered between processes while nothing is installed or removed.

Finding entry points means importing ``importlib.metadata`` (and ``email.parser`` behind it)
and reading the metadata of every installed distribution: about a fifth of a short
command's start-up. What it finds changes only when a distribution is installed, upgraded or
removed, so the answer is kept in a JSON file of the user's cache directory, keyed by a
**fingerprint of what is installed**: for every ``sys.path`` entry, the names and
modification times of its ``*.dist-info`` / ``*.egg-info`` directories, their
``entry_points.txt`` files, ``*.egg-link`` and ``*.pth`` files (pip creates, replaces or
removes these on every install and uninstall, editable ones included). Computing it is a
directory listing and a few ``stat`` calls per path entry, well under a millisecond.

Safety: the file holds only strings (entry point name, ``module:attribute``, distribution
name and version) read with :func:`json.loads` and checked field by field; nothing stored
is executed or unpickled, and a file that does not have exactly that shape is ignored and
rewritten. What gets imported is what the entry point names, as without the cache. The
directory is ``$FLOWBUILDER_CACHE_DIR``, else ``$XDG_CACHE_HOME/flowbuilder``, else
``~/.cache/flowbuilder``; ``FLOWBUILDER_NO_CACHE=1`` bypasses it. A cache that cannot be
read or written is passed over silently: the scan is always the fallback.
"""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from flowbuilder._frozen_record import FrozenRecord
from flowbuilder._sha256 import new_sha256, sha256_hex

CACHE_FORMAT = 1
_INSTALL_MARKERS = (".dist-info", ".egg-info", ".egg-link", ".pth")
_VALUE = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?(\[[\w,.-]*\])?$")
"""``module``, ``module:attribute.path``, optionally ``[extras]`` (spaces removed first)."""


class CachedDistribution(FrozenRecord):
    """The two facts the plugin host reads of an entry point's distribution."""

    __slots__ = ("metadata", "version")
    metadata: Mapping[str, str]
    version: str

    def __init__(self, metadata: Mapping[str, str], version: str) -> None:
        object.__setattr__(self, "metadata", metadata)
        object.__setattr__(self, "version", version)


class CachedEntryPoint(FrozenRecord):
    """An entry point as ``importlib.metadata`` gives it, for the attributes the host uses."""

    __slots__ = ("name", "value", "dist")
    name: str
    value: str
    dist: CachedDistribution | None

    def __init__(self, name: str, value: str, dist: CachedDistribution | None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "dist", dist)

    def load(self) -> Any:
        """Import ``module`` and return ``module.attribute`` (the module itself without one)."""
        from importlib import import_module

        module_name, _, attributes = self.value.partition("[")[0].partition(":")
        loaded: Any = import_module(module_name.strip())
        for attribute in filter(None, attributes.strip().split(".")):
            loaded = getattr(loaded, attribute)
        return loaded


def cache_directory(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where FlowBuilder keeps caches, or None when ``FLOWBUILDER_NO_CACHE`` is set."""
    if environ.get("FLOWBUILDER_NO_CACHE", "") not in ("", "0"):
        return None
    if environ.get("FLOWBUILDER_CACHE_DIR"):
        return Path(environ["FLOWBUILDER_CACHE_DIR"])
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flowbuilder"


_held: dict[tuple[str, ...], str] | None = None
"""Fingerprints by ``sys.path`` while :func:`hold_fingerprint` is in effect (one CLI command)."""


@contextmanager
def hold_fingerprint() -> Iterator[None]:
    """Within this block, compute the installed fingerprint once per ``sys.path``.

    One ``flowbuilder`` command asks for it up to three times (entry points, the plugin
    manifest, the validated-workflow cache), each a listing of every ``sys.path`` entry and a
    ``stat`` per distribution: 3-8 ms apiece on a machine with a few hundred distributions.
    The CLI holds it for the command's duration (a long-running ``serve`` or ``scheduler``
    loads its plugins once at start anyway, so a distribution installed under it is seen
    after a restart, as before); elsewhere (the API, tests that install in-process) every call lists
    the directories again.
    """
    global _held
    outer = _held
    _held = {} if outer is None else outer
    try:
        yield
    finally:
        _held = outer


def installed_fingerprint(paths: Iterable[str] | None = None) -> str:
    """A digest that changes whenever a distribution is installed, upgraded or removed."""
    if paths is None and _held is not None:
        key = tuple(sys.path)
        found = _held.get(key)
        if found is None:
            found = _held[key] = _fingerprint(key)
        return found
    return _fingerprint(sys.path if paths is None else paths)


def _fingerprint(paths: Iterable[str]) -> str:
    """The digest of :func:`installed_fingerprint`, over the ``sys.path`` entries that can hold distributions.

    An entry that is a directory without any install marker (a script's folder, the current
    directory, a source tree) holds no distribution, so it adds nothing, not even its name:
    the console script (``sys.path[0]`` is the venv's ``bin``), ``python -c`` (``''``) and a
    user's scripts in other folders then share one fingerprint, and so one answer of each
    cache, instead of evicting each other's in turn and rescanning every time. An entry
    that is a distribution itself (``*.egg``) or a zip file counts as before; a missing one, by
    the same rule as an empty folder, adds nothing.
    """
    digest = new_sha256(sys.version.encode())
    for entry in paths:
        try:
            with os.scandir(entry or ".") as listing:
                found = [item for item in listing if item.name.endswith(_INSTALL_MARKERS)]
        except OSError:  # a zip file: its own time stands for it; nothing there: nothing to count
            stamp = _mtime(entry)
            if stamp != -1:
                digest.update(b"\0path\0" + entry.encode("utf-8", "surrogateescape"))
                digest.update(str(stamp).encode())
            continue
        if not found and not entry.endswith(".egg"):
            continue
        digest.update(b"\0path\0" + entry.encode("utf-8", "surrogateescape"))
        for item in sorted(found, key=lambda item: item.name):
            stamps = [_mtime(item.path)]
            if item.name.endswith((".dist-info", ".egg-info")):
                stamps.append(_mtime(os.path.join(item.path, "entry_points.txt")))
            digest.update(f"\0{item.name}\0{stamps}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _mtime(path: str) -> int:
    """Modification time in ns, or -1 when there is nothing (a distribution without entry points)."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _cache_file(directory: Path, group: str) -> Path:
    """One file per interpreter environment and group, so two virtualenvs never evict each other."""
    environment = sha256_hex(f"{sys.prefix}\0{group}".encode())[:16]
    return directory / f"entry-points-{environment}.json"


def _scan(group: str) -> list[CachedEntryPoint]:
    if sys.version_info >= (3, 12):
        from importlib.metadata import entry_points
    else:  # the backport has the same selection API and `EntryPoint.dist` on 3.11
        from importlib_metadata import entry_points

    found = []
    for entry_point in entry_points(group=group):
        dist = getattr(entry_point, "dist", None)
        cached_dist = CachedDistribution({"Name": dist.metadata["Name"]}, dist.version) if dist is not None else None
        found.append(CachedEntryPoint(entry_point.name, entry_point.value, cached_dist))
    return found


def _decode(raw: str, fingerprint: str) -> list[CachedEntryPoint] | None:
    """The entry points stored under ``fingerprint``; None for another fingerprint or any other shape."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("fingerprint") != fingerprint:
        return None
    items = data.get("entry_points")
    if not isinstance(items, list):
        return None
    found = []
    for item in items:
        if not isinstance(item, dict):
            return None
        name, value = item.get("name"), item.get("value")
        dist_name, dist_version = item.get("dist"), item.get("version")
        if not isinstance(name, str) or not isinstance(value, str) or not _VALUE.match(value.replace(" ", "")):
            return None
        if dist_name is None and dist_version is None:
            dist = None
        elif isinstance(dist_name, str) and isinstance(dist_version, str):
            dist = CachedDistribution({"Name": dist_name}, dist_version)
        else:
            return None
        found.append(CachedEntryPoint(name, value, dist))
    return found


def _encode(found: list[CachedEntryPoint], fingerprint: str) -> str:
    items = [
        {
            "name": entry_point.name,
            "value": entry_point.value,
            "dist": entry_point.dist.metadata["Name"] if entry_point.dist else None,
            "version": entry_point.dist.version if entry_point.dist else None,
        }
        for entry_point in found
    ]
    return json.dumps({"format": CACHE_FORMAT, "fingerprint": fingerprint, "entry_points": items})


def cached_entry_points(group: str, environ: Mapping[str, str] = os.environ) -> list[CachedEntryPoint]:
    """The entry points of ``group``, from the cache when nothing was installed or removed since."""
    directory = cache_directory(environ)
    if directory is None:
        return _scan(group)
    fingerprint = installed_fingerprint()
    path = _cache_file(directory, group)
    try:
        found = _decode(path.read_text(encoding="utf-8"), fingerprint)
    except (OSError, UnicodeDecodeError):
        found = None
    if found is not None:
        return found
    found = _scan(group)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(_encode(found, fingerprint), encoding="utf-8")
        os.replace(partial, path)  # readers see the old file or the new one, never half of one
    except OSError:
        pass
    return found
