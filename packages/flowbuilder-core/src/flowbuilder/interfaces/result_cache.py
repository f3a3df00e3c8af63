"""The result cache role of a store: task results kept by key, across runs.

:class:`ResultCache` is a role that :class:`~flowbuilder.interfaces.Store` inherits (like
``ControlChannel``). Its methods have defaults, so a store written before them keeps
working: it keeps no cached results (every lookup misses, nothing is stored, clearing
finds nothing) and workflows with ``cache:`` simply run every time. A store overrides all
four to take part; the Store contract (version 5) checks them.

Entries are :class:`~flowbuilder.caching.CachedResult` records, kept in the encoding of
:func:`~flowbuilder.caching.encode_cached_result` and addressed by (workflow, task, key),
where ``key`` is a hex SHA-256 digest, never the text it was made from. Guarantees a store
that overrides them gives:

* :meth:`ResultCache.put_cached_result` replaces the entry of the same address whole;
  entries are a key space of their own, beside (never inside) any run's records, so
  caching never moves a run's event sequence and deleting a run does not delete them;
* :meth:`ResultCache.get_cached_result` never returns an expired entry (``expires_at`` at
  or before the current time), from any process sharing the store; a store may drop an
  expired entry at any time (Redis lets the server expire it; RocksDB checks the stored
  expiry on read and removes expired entries when :meth:`clear_cached_results` runs);
* :meth:`ResultCache.clear_cached_results` removes every entry of a workflow, of one task
  of it, or of every workflow, and every expired entry it passes, and returns how many
  live entries it removed;
* an entry whose output is a table reference points at the source run's blob: the cache
  never copies a table (served by reference); when that run is deleted, the runner finds
  the blob gone on a hit and runs the task instead.
"""

from __future__ import annotations

from abc import ABC
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from flowbuilder.caching import CachedResult


class ResultCache(ABC):
    """Cached task results of a store (see the module docstring)."""

    scheme: ClassVar[str]

    def get_cached_result(self, workflow: str, task: str, key: str) -> CachedResult | None:
        """The live entry at (workflow, task, key), or None (none, expired, or a store that keeps none).

        StoreError (one line) for a stored record this core cannot read (a newer format).
        """
        return None

    def put_cached_result(self, entry: CachedResult) -> None:
        """Keep ``entry`` at its (workflow, task, key), replacing what was there.

        StoreError (one line) for an entry :func:`~flowbuilder.caching.encode_cached_result`
        refuses (bad names or key, not plain JSON, too big). The default keeps nothing.
        """

    def list_cached_results(self, workflow: str | None = None, task: str | None = None) -> list[CachedResult]:
        """Live entries of ``workflow`` (every workflow when None), of ``task`` when given,
        ordered by workflow, task and key. Empty for a store that keeps none."""
        return []

    def clear_cached_results(self, workflow: str | None = None, task: str | None = None) -> int:
        """Remove the entries of ``workflow`` (every workflow when None; ``task`` narrows it),
        and every expired entry met on the way; return how many live entries were removed."""
        return 0


__all__ = ["ResultCache"]
