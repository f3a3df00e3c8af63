"""The benchmarks' own redis-server: the test suites' launcher, with a benchmark's exit on failure.

Benchmarks never use the machine's Redis on 6379 (it may hold someone's data, and its
settings are not ours): each starts one on a free port of 127.0.0.1 in its scratch folder
through :class:`flowbuilder_contracts.redis_server.RedisServer`, the launcher the tests use.
"""

from __future__ import annotations

from pathlib import Path

from flowbuilder_contracts.redis_server import RedisServer, RedisServerError, redis_server_binary


def private_redis(directory: Path, *, appendonly: bool = False, appendfsync: str = "always") -> RedisServer:
    """A started private server, or exit with the reason (redis-server missing, or it did not start)."""
    try:
        return RedisServer(directory, appendonly=appendonly, appendfsync=appendfsync).start()
    except RedisServerError as error:
        raise SystemExit(str(error)) from None


def optional_redis(directory: Path) -> RedisServer | None:
    """As :func:`private_redis`, but None when redis-server is not installed (the Redis rows are skipped)."""
    try:
        redis_server_binary()
    except RedisServerError:
        return None
    return private_redis(directory)
