"""What ``flowbuilder validate`` found for a file that was valid, remembered until anything changes.

Validating the seed example takes a quarter of a second, almost all of it importing and
building the pydantic models of core and of every task type; the answer for a file that
was valid is three numbers and its warnings. This module keeps that answer as JSON in the
user's cache directory (:func:`flowbuilder._entry_point_cache.cache_directory`) so that
validating the same file again (an editor's on-save check, a pre-commit hook, CI over an
unchanged repository) costs a hash and a few ``stat`` calls.

An answer is used only when all of these are as they were when it was stored — the key is
a SHA-256 over the first five, the last is checked entry by entry:

* the file's bytes, the path as it was given (messages quote it) and the current directory;
* core's version and the Python version;
* the settings (flowbuilder.toml and ``FLOWBUILDER_*``: plugin selection, limits, tables);
* what is installed (:func:`~flowbuilder._entry_point_cache.installed_fingerprint`);
* the modification time and size of every Python module outside the standard library that
  validating it imported — core, the plugins and their task types, pydantic — so editing a
  plugin's source in an editable install invalidates the answer too.

Only successes are stored, and only when every plugin loaded: a file with problems is
always checked afresh, with every message as before. Nothing stored is executed: the file is
read with :func:`json.loads` and checked field by field; a file of any other shape is a miss.
At most :data:`MAX_ENTRIES` answers are kept (the oldest go first).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from flowbuilder._entry_point_cache import cache_directory, installed_fingerprint
from flowbuilder._frozen_record import FrozenRecord
from flowbuilder._sha256 import new_sha256
from flowbuilder._version import __version__
from flowbuilder.errors import Diagnostic

CACHE_FORMAT = 1
MAX_ENTRIES = 256
_STDLIB = os.path.dirname(os.__file__) + os.sep


class ValidOutcome(FrozenRecord):
    """What ``validate`` prints for a valid file: its size, depth and warnings."""

    __slots__ = ("tasks", "levels", "warnings")
    tasks: int
    levels: int
    warnings: tuple[Diagnostic, ...]

    def __init__(self, tasks: int, levels: int, warnings: tuple[Diagnostic, ...]) -> None:
        object.__setattr__(self, "tasks", tasks)
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "warnings", warnings)


def _entry_key(path: Path, content: bytes, settings_text: str) -> str:
    digest = new_sha256(f"{CACHE_FORMAT}\0{__version__}\0{sys.version}\0".encode(), more=len(content))
    for part in (str(path), os.getcwd(), settings_text, installed_fingerprint()):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(content)
    return digest.hexdigest()


def _regular_file_bytes(path: Path, max_bytes: int) -> bytes | None:
    """The file's bytes if it is a regular file of at most ``max_bytes`` (never opens a FIFO or device)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        return path.read_bytes()
    except OSError:
        return None


def imported_sources() -> list[list[Any]]:
    """[file, mtime_ns, size] of every imported module outside the standard library."""
    found = []
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            continue
        if file.startswith(_STDLIB) and "-packages" not in file:
            continue
        try:
            info = os.stat(file)
        except OSError:
            continue
        found.append([file, info.st_mtime_ns, info.st_size])
    return found


def sources_unchanged(sources: Any) -> bool:
    if not isinstance(sources, list):
        return False
    for entry in sources:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)):
            return False
        try:
            info = os.stat(entry[0])
        except OSError:
            return False
        if info.st_mtime_ns != entry[1] or info.st_size != entry[2]:
            return False
    return True


def _decode(raw: str, key: str) -> ValidOutcome | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("key") != key:
        return None
    tasks, levels, warnings = data.get("tasks"), data.get("levels"), data.get("warnings")
    if not isinstance(tasks, int) or not isinstance(levels, int) or not isinstance(warnings, list):
        return None
    found = []
    for item in warnings:
        if not isinstance(item, dict):
            return None
        file, line, column, message, hint = (item.get(name) for name in ("file", "line", "column", "message", "hint"))
        if not (isinstance(file, str) and isinstance(line, int) and isinstance(column, int)):
            return None
        if not isinstance(message, str) or not (hint is None or isinstance(hint, str)):
            return None
        found.append(Diagnostic(file, line, column, message, hint))
    if not sources_unchanged(data.get("sources")):
        return None
    return ValidOutcome(tasks, levels, tuple(found))


class ValidationCache:
    """Remembered outcomes for one process's settings; a no-op when caching is off."""

    def __init__(self, settings_text: str, max_bytes: int):
        self.settings_text = settings_text
        self.max_bytes = max_bytes
        base = cache_directory()
        self.directory = base / "validate" if base is not None else None

    def lookup(self, path: Path) -> tuple[ValidOutcome | None, str | None]:
        """(the remembered outcome or None, the key to store a fresh one under or None)."""
        if self.directory is None:
            return None, None
        content = _regular_file_bytes(path, self.max_bytes)
        if content is None:
            return None, None
        key = _entry_key(path, content, self.settings_text)
        try:
            raw = (self.directory / f"{key}.json").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None, key
        return _decode(raw, key), key

    def store(self, key: str, outcome: ValidOutcome) -> None:
        """Remember ``outcome`` under ``key`` (errors writing are ignored: the cache is optional)."""
        if self.directory is None:
            return
        record = {
            "format": CACHE_FORMAT,
            "key": key,
            "tasks": outcome.tasks,
            "levels": outcome.levels,
            "warnings": [
                {"file": w.file, "line": w.line, "column": w.column, "message": w.message, "hint": w.hint}
                for w in outcome.warnings
            ],
            "sources": imported_sources(),
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = self.directory / f"{key}.json"
            partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(record), encoding="utf-8")
            os.replace(partial, target)
            self._prune()
        except OSError:
            pass

    def _prune(self) -> None:
        assert self.directory is not None
        entries = list(os.scandir(self.directory))
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda entry: entry.stat().st_mtime_ns)
        for entry in entries[: len(entries) - MAX_ENTRIES]:
            try:
                os.unlink(entry.path)
            except OSError:
                pass
