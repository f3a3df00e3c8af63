"""Parsing the store URLs of this package into their parts, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from flowbuilder.errors import ConfigurationError, quoted, shown_url

DEFAULT_ROCKSDB_DIR = ".flowbuilder"


def split_query(url: str) -> tuple[str, dict[str, str]]:
    """``scheme://rest?a=1`` -> (``scheme://rest``, {"a": "1"})."""
    base, _, query = url.partition("?")
    return base, dict(parse_qsl(query, keep_blank_values=True))


def _raw_rocksdb_path(url: str) -> Path:
    """The path of a ``rocksdb://PATH[?options]`` URL as written (``~`` expanded)."""
    base, _ = split_query(url)
    if not base.startswith("rocksdb://"):
        raise ConfigurationError(f"store URL {quoted(shown_url(url))} is not a rocksdb:// URL")
    return Path(base[len("rocksdb://") :] or DEFAULT_ROCKSDB_DIR).expanduser()


def rocksdb_path(url: str) -> tuple[Path, dict[str, str]]:
    """``rocksdb://PATH[?options]`` -> (absolute path, options). Relative paths are from the cwd."""
    return _raw_rocksdb_path(url).absolute(), split_query(url)[1]


def rocksdb_url_from(url: str, folder: Path) -> str:
    """``url`` with its path made absolute against ``folder`` (options kept; absolute: unchanged)."""
    path = _raw_rocksdb_path(url)
    if path.is_absolute():
        return url
    _, separator, query = url.partition("?")
    return f"rocksdb://{folder / path}{separator}{query}"


def settings_section(name: str) -> dict[str, object]:
    """The ``[name]`` table of flowbuilder.toml / ``FLOWBUILDER_NAME__KEY`` variables ({} if unreadable)."""
    from flowbuilder.config import load_settings

    return dict(load_settings().section(name))


def redis_parts(url: str) -> tuple[str, str]:
    """``redis://HOST:PORT/DB?prefix=fb:`` -> (URL for redis-py without our options, key prefix)."""
    base, query = split_query(url)
    parts = urlsplit(base)
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigurationError(f"store URL {quoted(shown_url(url))} is not a redis:// URL")
    if not parts.hostname:
        raise ConfigurationError(f"store URL {quoted(shown_url(url))} names no host; use redis://HOST:PORT/DB")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigurationError(
            f"store URL {quoted(shown_url(url))} has an invalid port; use redis://HOST:PORT/DB"
        ) from None
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise ConfigurationError(
            f"store URL {quoted(shown_url(url))}: database {quoted(db)} must be a number, e.g. redis://127.0.0.1:6379/0"
        )
    prefix = query.pop("prefix", None) or str(settings_section("redis").get("prefix", "fb:"))
    return base, prefix
