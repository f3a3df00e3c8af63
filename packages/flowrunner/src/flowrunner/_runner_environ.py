"""The runner's environment as a ``dict``, decoded once per change instead of once per process.

Why: every ``shell`` and ``script`` attempt starts its process from a copy of ``os.environ``,
and ``dict(os.environ)`` decodes every name and value in Python, one call each: 25-70 µs
for a few dozen variables, on the scheduler's thread, for every process a run starts
(``bench/shell.py``). The environment almost never changes between two attempts, so the
decoded copy is kept and reused while the encoded variables stay equal.

How a change is seen: ``os.environ`` keeps its encoded variables in a plain dict
(``os.environ._data`` in CPython, the same object as ``os.environb._data``), and every
change through ``os.environ`` or ``os.environb`` updates it. Comparing it with the copy
taken with the snapshot is one C-level dict comparison (about 1 µs). Where that attribute
is missing (another Python), every call decodes afresh, as before. A change made with
``os.putenv`` alone is not in ``os.environ`` either, so it was never inherited this way.
"""

from __future__ import annotations

import os
import threading

_snapshot: tuple[dict[bytes, bytes], dict[str, str]] | None = None
_lock = threading.Lock()


def runner_environment() -> dict[str, str]:
    """A new dict equal to ``dict(os.environ)`` (the caller may change it freely)."""
    global _snapshot
    encoded = getattr(os.environ, "_data", None)
    if not isinstance(encoded, dict):
        return dict(os.environ)
    snapshot = _snapshot
    if snapshot is None or snapshot[0] != encoded:
        with _lock:
            raw = encoded.copy()  # decode this copy, so the pair stays consistent if another thread changes os.environ
            decode_name, decode_value = os.environ.decodekey, os.environ.decodevalue
            snapshot = _snapshot = (raw, {decode_name(name): decode_value(value) for name, value in raw.items()})
    return snapshot[1].copy()
