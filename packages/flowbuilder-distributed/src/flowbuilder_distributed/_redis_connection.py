"""Opening a Redis connection for workers, executors and the registry, with one-line errors.

A URL that is not Redis, a server that does not answer, a wrong password: each becomes a
:class:`~flowbuilder.errors.ConfigurationError` naming the URL (without its password) and the
reason, so a command prints one line and exits non-zero instead of a traceback. The driver
is imported here, when a connection is opened, never when the plugin loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flowbuilder.errors import ConfigurationError, cut, quoted, shown_url

if TYPE_CHECKING:
    import redis
    import redis.asyncio

CONNECT_TIMEOUT = 5.0
"""Seconds to wait for the server to accept a connection before the URL is called unreachable."""
REDIS_SCHEMES = ("redis", "rediss")


def _options(url: str, what: str) -> dict[str, Any]:
    try:
        scheme = urlsplit(url).scheme
    except ValueError as error:  # "Invalid IPv6 URL"
        raise ConfigurationError(f"{what} {quoted(shown_url(url))} cannot be read: {error}") from None
    if scheme not in REDIS_SCHEMES:
        raise ConfigurationError(f"{what} {quoted(shown_url(url))} is not a redis:// URL (redis://HOST:PORT/DB)")
    return {"socket_connect_timeout": CONNECT_TIMEOUT, "health_check_interval": 30}


def connect(url: str, what: str = "Redis") -> redis.Redis:
    """A client of the Redis at ``url``, checked with a PING (one-line error if it fails)."""
    import redis

    options = _options(url, what)
    try:
        client = redis.Redis.from_url(url, **options)
        client.ping()
    except ValueError as error:
        raise ConfigurationError(f"{what} {quoted(shown_url(url))}: {error}") from None
    except redis.RedisError as error:
        raise ConfigurationError(f"cannot reach {what} at {cut(shown_url(url))}: {error}") from None
    return client


async def connect_async(url: str, what: str = "Redis") -> redis.asyncio.Redis:
    """An asyncio client of the Redis at ``url``, checked with a PING (one-line error if it fails)."""
    import redis
    import redis.asyncio

    options = _options(url, what)
    try:
        client = redis.asyncio.Redis.from_url(url, **options)
        await client.ping()
    except ValueError as error:
        raise ConfigurationError(f"{what} {quoted(shown_url(url))}: {error}") from None
    except redis.RedisError as error:
        raise ConfigurationError(f"cannot reach {what} at {cut(shown_url(url))}: {error}") from None
    return client
