"""Task result caching: the cache key and the stored form of a cached result.

A task with ``cache:`` (see docs/dsl.md, "cache") may be served from an earlier run's
result instead of running. Core owns the two things every party must agree on: how a key
is made (the runner makes it, ``flowbuilder cache`` commands never need to) and how a
cached result is stored, so that every store keeps the same bytes
(:func:`encode_cached_result`) and the runner that wrote an entry and the one that reads
it need not be the same version of the same package.

**The key is always a SHA-256 digest**, never the text it was made from: a key built from
a rendered config, an env or params may hold a secret's value, and a ``key:`` expression
may read ``secrets.NAME``; hashing keeps those values out of the store, where anyone who
can list the cache could read them. (A hash of a guessable secret can still be confirmed
by guessing; the docs say to keep secrets out of cached tasks' inputs where that matters.)

What the default key covers (:func:`default_cache_key`): the key recipe's version, the
workflow's and the task's names, the task's type, its config as the attempt receives it
(rendered and validated), the attempt's environment (the workflow's and the task's
``env``, rendered; not the process environment), the outputs of its direct dependencies
and every param of the run (a task's code may read any param through its context). With
``key:`` (:func:`explicit_cache_key`), the rendered key text alone decides, within the
workflow and task.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from flowbuilder._sha256 import sha256_hex
from flowbuilder.errors import StoreError, quoted
from flowbuilder.limits import MAX_CACHE_TTL_SECONDS

CACHE_KEY_VERSION = 1
"""Part of every key: raising it makes every older entry a miss (a change to what keys cover)."""
CACHE_FORMAT_VERSION = 1
"""The ``v`` of a stored entry; readers refuse newer ones (a one-line StoreError asking to upgrade)."""
MAX_CACHED_RESULT_BYTES = 32 << 20
"""A cached result's stored form may be at most this big (outputs are capped at 16 MiB by
default; tables are kept by reference, so their size does not count here)."""


@dataclass(frozen=True, slots=True)
class CachedResult:
    """One cached task result.

    ``key`` is the hex digest (:func:`default_cache_key` or :func:`explicit_cache_key`);
    ``output`` is the output *as the source run recorded it* (plain JSON values; a table is
    core's reference envelope, :mod:`flowbuilder.tables`, pointing at the source run's
    blob: served by reference, never copied); ``outputs`` the task's named outputs;
    ``run_id`` the run that produced it; ``stored_at`` and ``expires_at`` wall-clock
    seconds (``expires_at`` None: kept until cleared).
    """

    workflow: str
    task: str
    key: str
    output: Any = None
    outputs: Mapping[str, Any] = field(default_factory=dict)
    run_id: str = ""
    stored_at: float = field(default_factory=time.time)
    expires_at: float | None = None

    def expired(self, now: float | None = None) -> bool:
        """Whether the entry's time is up (at ``now``, default the current time)."""
        return self.expires_at is not None and (time.time() if now is None else now) >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "task": self.task, "key": self.key, "output": self.output,
                "outputs": dict(self.outputs), "run_id": self.run_id, "stored_at": self.stored_at,
                "expires_at": self.expires_at}  # fmt: skip


_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$")
"""Workflow and task names: :data:`flowbuilder.model.NAME_PATTERN` (a test keeps them equal),
copied so that ``flowbuilder cache`` does not import pydantic."""


def check_cache_name(what: str, value: Any) -> None:
    """A workflow or task name of a cache entry; StoreError for anything else (stores key entries by them)."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise StoreError(f"invalid {what} name {quoted(value)} for a cache entry; names match {_NAME.pattern}")


def check_cache_key(key: Any) -> None:
    """A stored key is a lowercase hex SHA-256 digest; anything else is refused (StoreError)."""
    if not isinstance(key, str) or len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise StoreError(f"invalid cache key {key!r}: a key is the 64-character hex SHA-256 digest FlowBuilder makes")


def encode_cached_result(entry: CachedResult) -> bytes:
    """The stored form (compact UTF-8 JSON); StoreError (one line) for an entry no store may keep."""
    check_cache_name("workflow", entry.workflow)
    check_cache_name("task", entry.task)
    check_cache_key(entry.key)
    for what, instant in (("stored_at", entry.stored_at), ("expires_at", entry.expires_at)):
        if instant is not None and (isinstance(instant, bool) or not isinstance(instant, (int, float))
                                    or not math.isfinite(instant)):  # fmt: skip
            raise StoreError(f"invalid {what} {instant!r} for a cache entry: a finite number of seconds")
    record = {"v": CACHE_FORMAT_VERSION, **entry.to_dict()}
    try:
        raw = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise StoreError(f"cannot cache the result of task {entry.task!r}: it is not plain JSON ({error})") from None
    if len(raw) > MAX_CACHED_RESULT_BYTES:
        raise StoreError(f"cannot cache the result of task {entry.task!r}: {len(raw)} bytes, more than"
                         f" {MAX_CACHED_RESULT_BYTES}")  # fmt: skip
    return raw


def decode_cached_result(raw: bytes | str) -> CachedResult:
    """Inverse of :func:`encode_cached_result`; StoreError for a record of another shape or a newer version."""
    try:
        record = json.loads(raw)
    except ValueError as error:
        raise StoreError(f"a cache entry is not JSON ({error}); clear it with `flowbuilder cache clear`") from None
    if not isinstance(record, dict):
        raise StoreError("a cache entry is not a JSON object; clear it with `flowbuilder cache clear`")
    version = record.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StoreError(f"a cache entry has an invalid version {version!r}; clear it with `flowbuilder cache clear`")
    if version > CACHE_FORMAT_VERSION:
        raise StoreError(f"a cache entry of format {version} was written by a newer FlowBuilder (this one reads up"
                         f" to {CACHE_FORMAT_VERSION}); upgrade flowbuilder-core")  # fmt: skip
    try:
        outputs = record.get("outputs") or {}
        if not isinstance(outputs, dict):
            raise TypeError("outputs is not a mapping")
        expires = record.get("expires_at")
        return CachedResult(workflow=str(record["workflow"]), task=str(record["task"]), key=str(record["key"]),
                            output=record.get("output"), outputs=outputs, run_id=str(record.get("run_id", "")),
                            stored_at=float(record.get("stored_at", 0.0)),
                            expires_at=None if expires is None else float(expires))  # fmt: skip
    except (KeyError, TypeError, ValueError) as error:
        raise StoreError(f"a cache entry lacks a field or has a wrong one ({error}); clear it with"
                         " `flowbuilder cache clear`") from None  # fmt: skip


# -- keys ---------------------------------------------------------------------------------


def _digest(parts: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``parts`` (sorted keys; values JSON cannot hold are their repr)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_key_fallback)
    return sha256_hex(text.encode("utf-8", "surrogatepass"))


def _key_fallback(value: Any) -> Any:
    """How a value JSON cannot hold enters a key: sets in order, bytes and tables by content digest.

    Anything else is its ``repr``: an object whose repr holds its address then never hits
    (a miss, never a wrong hit). A table is hashed by its Arrow IPC bytes, since its repr
    shows only its first and last rows: two tables differing in the middle must not collide.
    """
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": sha256_hex(bytes(value))}
    ipc = table_bytes(value)
    if ipc is not None:
        return {"$table": sha256_hex(ipc)}
    if hasattr(value, "model_dump"):  # a validated config model
        return value.model_dump(mode="json")
    return repr(value)


def table_bytes(value: Any) -> bytes | None:
    """A Polars or Arrow table as Arrow IPC bytes (None for anything else); neither library is imported here."""
    module = type(value).__module__
    if module.startswith("polars") and callable(getattr(value, "write_ipc", None)):
        import io

        buffer = io.BytesIO()
        value.write_ipc(buffer)
        return buffer.getvalue()
    if module.startswith("pyarrow") and hasattr(value, "schema") and hasattr(value, "num_rows"):
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, value.schema) as stream:
            stream.write_table(value) if hasattr(value, "to_batches") else stream.write_batch(value)
        return bytes(sink.getvalue())
    return None


def default_cache_key(workflow: str, task: str, task_type: str, config: Any, env: Mapping[str, str],
                      inputs: Mapping[str, Any], params: Mapping[str, Any]) -> str:  # fmt: skip
    """The key of an attempt of ``task`` with these inputs (see the module docstring for what it covers)."""
    return _digest({"v": CACHE_KEY_VERSION, "workflow": workflow, "task": task, "type": task_type,
                    "config": config, "env": dict(env), "inputs": dict(inputs), "params": dict(params)})  # fmt: skip


def explicit_cache_key(workflow: str, task: str, rendered_key: str) -> str:
    """The key of ``task`` from its rendered ``key:`` text: that text alone decides, within the task."""
    return _digest({"v": CACHE_KEY_VERSION, "workflow": workflow, "task": task, "key": rendered_key})


__all__ = [
    "CACHE_FORMAT_VERSION",
    "CACHE_KEY_VERSION",
    "MAX_CACHED_RESULT_BYTES",
    "MAX_CACHE_TTL_SECONDS",
    "CachedResult",
    "check_cache_key",
    "check_cache_name",
    "decode_cached_result",
    "default_cache_key",
    "encode_cached_result",
    "explicit_cache_key",
    "table_bytes",
]
