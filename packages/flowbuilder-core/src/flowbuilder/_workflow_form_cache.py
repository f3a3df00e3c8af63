"""The validated form of a workflow file ``flowbuilder run`` loaded before, kept until anything changes.

Why: a short ``flowbuilder run`` spent a tenth of its start-up importing PyYAML, parsing
the file and building and running core's pydantic models, only to arrive at the same
:class:`~flowbuilder.model.Workflow` as last time. This cache keeps that validated workflow
as plain JSON in the user's cache directory
(:func:`flowbuilder._entry_point_cache.cache_directory`) and rebuilds it with pydantic's
``model_construct`` — no YAML, no validation, and no schema build of core's models, which
are declared with ``defer_build`` for this reason (their schemas are built by the first
validation instead). Everything after loading runs as always: the compiler checks the
task types' configs, dependencies and expressions against the installed plugins, so only
core's own schema check of the file is taken from the cache.

An entry is used only when all of these are as they were when it was stored — the key is
a SHA-256 over the first four, the last is checked entry by entry (as
:mod:`flowbuilder._validation_cache` does):

* the file's bytes (the path does not matter: the same bytes validate the same anywhere);
* core's version and the Python version;
* the settings (flowbuilder.toml and ``FLOWBUILDER_*``, which hold the YAML limits);
* what is installed (:func:`~flowbuilder._entry_point_cache.installed_fingerprint`);
* the modification time and size of every Python module outside the standard library that
  was imported when the entry was stored (core's model and parser, pydantic, PyYAML).

Only valid files are stored, only files of at most :data:`MAX_FILE_BYTES` (an entry is about
four times the size of its YAML, and start-up is what this saves: a large file's run is
long anyway), and only workflows whose every value is plain JSON data with an exact
round trip: a number that kept its YAML text (``1.10``), a non-string key, a non-finite
float or any type other than ``str``, ``int``, ``float``, ``bool``, ``None``, lists,
string-keyed mappings and the models of :mod:`flowbuilder.model` (without private
attributes, whose state ``model_construct`` would not restore) makes the workflow
uncached, never changed. A new DSL field needs nothing here; a new DSL model is cached
when it is declared in :mod:`flowbuilder.model`.

Nothing stored is executed: the file is read with :func:`json.loads`, every node is
checked as it is rebuilt, models are looked up by name among core's DSL models only, and
an entry of any other shape is a miss that is rewritten. Because an entry says what a run
will execute, it is used only when it and its directory belong to this user and are not
writable by anyone else (entries are written with mode 0600 in a 0700 directory).
``FLOWBUILDER_NO_CACHE=1`` turns it off. At most :data:`MAX_ENTRIES` entries are kept (the
oldest go first).
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowbuilder._entry_point_cache import cache_directory, installed_fingerprint
from flowbuilder._sha256 import new_sha256
from flowbuilder._validation_cache import imported_sources, sources_unchanged
from flowbuilder._version import __version__

if TYPE_CHECKING:
    from pydantic import BaseModel

    from flowbuilder.model import Workflow

__all__ = ["MAX_ENTRIES", "MAX_FILE_BYTES", "WorkflowFormCache", "decode_workflow", "encode_workflow"]

CACHE_FORMAT = 1
MAX_ENTRIES = 256
MAX_FILE_BYTES = 64 * 1024
"""Files larger than this are validated as always, so that the cache stays within about
:data:`MAX_ENTRIES` x 256 KiB on disk. Rebuilding is not the limit: from 600 to 3,000 tasks
it took about half the time of parsing and validating the same file."""


class _NotPlainData(Exception):
    """A value of the workflow has no exact JSON form: the workflow is not cached."""


def _dsl_models() -> dict[str, type[BaseModel]]:
    """Core's DSL models by class name: the only classes an entry may name."""
    from pydantic import BaseModel

    from flowbuilder import model

    return {
        name: value
        for name, value in vars(model).items()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == model.__name__
    }


def encode_workflow(workflow: Workflow) -> Any:
    """The JSON form of a validated workflow, or None when some value has no exact JSON form.

    A model is ``{"m": class name, "s": its fields set, "v": {field: value}}``, a mapping
    ``{"d": {key: value}}``, a list a JSON array and a scalar itself, so that every JSON
    object in the form is one of the two wrappers and nothing a file says can pass for one.
    """
    models = _dsl_models()
    try:
        return _encode(workflow, models)
    except _NotPlainData:
        return None
    except RecursionError:  # nesting deeper than Python's stack: validate it as always
        return None


def _encode(value: Any, models: dict[str, type[BaseModel]]) -> Any:
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise _NotPlainData
        return value
    if isinstance(value, list) and _plain_container(kind, list):
        return [_encode(item, models) for item in value]
    if isinstance(value, dict) and _plain_container(kind, dict):
        if not all(type(key) is str for key in value):
            raise _NotPlainData
        return {"d": {key: _encode(item, models) for key, item in value.items()}}
    if models.get(kind.__name__) is kind:
        if kind.__private_attributes__ or value.__pydantic_extra__:
            raise _NotPlainData  # state beyond the fields, which model_construct would not restore
        fields = kind.model_fields
        return {
            "m": kind.__name__,
            "s": sorted(value.model_fields_set),
            "v": {name: _encode(getattr(value, name), models) for name in fields},
        }
    raise _NotPlainData


def _plain_container(kind: type, base: type) -> bool:
    """Whether a list/dict subclass is one that holds nothing but its items (so rebuilding it as
    ``base`` loses nothing): the parser's containers and the frozen models' shared empties."""
    if kind is base:
        return True
    from flowbuilder._model_sharing import SharedEmptyDict, SharedEmptyList
    from flowbuilder.yamlsource import LocatedList, LocatedMap, _UnlocatedList, _UnlocatedMap

    return kind in (SharedEmptyList, LocatedList, _UnlocatedList, SharedEmptyDict, LocatedMap, _UnlocatedMap)


def decode_workflow(form: Any) -> Workflow:
    """The workflow a form of :func:`encode_workflow` stands for (``ValueError`` for any other shape).

    Models are rebuilt with ``model_construct`` (no validation: the form was taken from a
    validated workflow), with the fields set they had; each task shares its equal parts as a
    validated task does (:func:`flowbuilder._model_sharing.share_model_parts`).
    """
    from flowbuilder.model import Workflow

    workflow = _decode(form, _dsl_models(), _share_task_parts())
    if type(workflow) is not Workflow:
        raise ValueError("not a workflow")
    return workflow


def _share_task_parts() -> Any:
    from flowbuilder._model_sharing import share_model_parts
    from flowbuilder.model import Task

    def share(model: Any) -> None:
        if type(model) is Task:  # the one model whose validator shares its parts (model.Task)
            share_model_parts(model)

    return share


def _decode(node: Any, models: dict[str, type[BaseModel]], share: Any) -> Any:
    kind = type(node)
    if node is None or kind is str or kind is bool or kind is int or kind is float:
        return node
    if kind is list:
        return [_decode(item, models, share) for item in node]
    if kind is not dict:
        raise ValueError(f"unexpected {kind.__name__}")
    if node.keys() == {"d"} and type(node["d"]) is dict:
        return {key: _decode(item, models, share) for key, item in node["d"].items()}
    if node.keys() != {"m", "s", "v"}:
        raise ValueError("unexpected mapping")
    cls = models.get(node["m"]) if type(node["m"]) is str else None
    given, values = node["s"], node["v"]
    if cls is None or type(given) is not list or type(values) is not dict:
        raise ValueError("unexpected model")
    fields = cls.model_fields
    if values.keys() != fields.keys() or not all(type(name) is str and name in fields for name in given):
        raise ValueError(f"the fields of {cls.__name__} changed")
    model = cls.model_construct(set(given), **{name: _decode(value, models, share) for name, value in values.items()})
    share(model)
    return model


def _entry_key(content: bytes, settings_text: str) -> str:
    digest = new_sha256(f"workflow-form\0{CACHE_FORMAT}\0{__version__}\0{sys.version}\0".encode(), more=len(content))
    for part in (settings_text, installed_fingerprint()):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(content)
    return digest.hexdigest()


class WorkflowFormCache:
    """Validated workflows of this process's settings, by file content; a no-op when caching is off."""

    def __init__(self, settings_text: str):
        self.settings_text = settings_text
        base = cache_directory()
        self.directory = base / "workflow-forms" if base is not None else None

    def lookup(self, content: bytes) -> tuple[Workflow | None, str | None]:
        """(the remembered workflow or None, the key to store a fresh one under or None)."""
        if self.directory is None or len(content) > MAX_FILE_BYTES:
            return None, None
        key = _entry_key(content, self.settings_text)
        entry = self.directory / f"{key}.json"
        try:
            if not (_private(self.directory) and _private(entry)):
                return None, key
            data = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return None, key
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("key") != key:
            return None, key
        if not sources_unchanged(data.get("sources")):
            return None, key
        try:
            return decode_workflow(data.get("workflow")), key
        except (ValueError, TypeError, RecursionError):
            return None, key

    def store(self, key: str, workflow: Workflow) -> None:
        """Remember ``workflow`` under ``key`` if it has an exact JSON form (errors writing are ignored)."""
        if self.directory is None:
            return
        form = encode_workflow(workflow)
        if form is None:
            return
        record = {"format": CACHE_FORMAT, "key": key, "workflow": form, "sources": imported_sources()}
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = self.directory / f"{key}.json"
            partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as opened:
                opened.write(json.dumps(record))
            os.replace(partial, target)
            _prune(self.directory)
        except OSError:
            pass


def _private(path: Path) -> bool:
    """Whether ``path`` is a directory or regular file only this user can have written: an entry
    says what a run executes, so one that others may write to is never used (as ssh treats its
    keys); and a FIFO or device under an entry's name is never opened (it could block)."""
    info = os.stat(path)
    owner_ok = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    kind_ok = stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)
    return owner_ok and kind_ok and not info.st_mode & 0o022


def _prune(directory: Path) -> None:
    entries = list(os.scandir(directory))
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime_ns)
    for entry in entries[: len(entries) - MAX_ENTRIES]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass
