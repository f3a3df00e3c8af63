"""flowbuilder-storage: durable, event-sourced stores for FlowBuilder.

* ``rocksdb://PATH`` (:class:`RocksDBStore`) — embedded, no server, the default store once
  this package is installed (``rocksdb://.flowbuilder`` in the working directory).
* ``redis://HOST:PORT/DB`` (:class:`RedisStore`) — one store shared between machines.
* history analytics with Polars (:mod:`flowbuilder_storage.stats`, ``flowbuilder stats``).

Both stores pass the Store contract of ``flowbuilder-contracts``. Heavy dependencies
(rocksdict, redis, polars) load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder_storage._version import __version__

if TYPE_CHECKING:
    from flowbuilder_storage._sync import SyncPolicy
    from flowbuilder_storage.redis_store import RedisStore, RunDataLostError
    from flowbuilder_storage.rocksdb_store import RocksDBStore
    from flowbuilder_storage.stats import daily_trend, history_report, load_task_attempts, slowest_runs, task_stats
    from flowbuilder_storage.tables import is_table_output, read_table

_LAZY = {
    "RocksDBStore": "flowbuilder_storage.rocksdb_store",
    "RedisStore": "flowbuilder_storage.redis_store",
    "RunDataLostError": "flowbuilder_storage.redis_store",
    "SyncPolicy": "flowbuilder_storage._sync",
    "load_task_attempts": "flowbuilder_storage.stats",
    "task_stats": "flowbuilder_storage.stats",
    "daily_trend": "flowbuilder_storage.stats",
    "slowest_runs": "flowbuilder_storage.stats",
    "history_report": "flowbuilder_storage.stats",
    "read_table": "flowbuilder_storage.tables",
    "is_table_output": "flowbuilder_storage.tables",
}

__all__ = [
    "__version__",
    "RocksDBStore",
    "RedisStore",
    "RunDataLostError",
    "SyncPolicy",
    "load_task_attempts",
    "task_stats",
    "daily_trend",
    "slowest_runs",
    "history_report",
    "read_table",
    "is_table_output",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowbuilder_storage' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)
