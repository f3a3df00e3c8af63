"""flowbuilder-storage's plugin: the ``rocksdb://`` and ``redis://`` stores and ``flowbuilder stats``.

Registered under the ``flowbuilder.plugins`` entry point group as ``storage``. The store
classes import their drivers (rocksdict, redis) only when a store is opened, and the stats
command imports polars only when it runs, so loading this plugin costs the CLI nothing.
"""

from __future__ import annotations

from typing import Any

from flowbuilder import hookimpl


@hookimpl
def flowbuilder_stores() -> list[Any]:
    from flowbuilder_storage.redis_store import RedisStore
    from flowbuilder_storage.rocksdb_store import RocksDBStore

    return [RocksDBStore, RedisStore]


@hookimpl
def flowbuilder_cli_commands(cli: Any) -> None:
    from flowbuilder_storage.stats_command import stats

    cli.add_command(stats, "stats")
