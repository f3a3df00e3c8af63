"""``rocksdb://`` URLs: where a relative path in flowbuilder.toml points, and whether a store
is there before anything is created (``RocksDBStore.resolve_url`` and ``exists``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowbuilder_storage.rocksdb_store import RocksDBStore


def test_a_relative_path_is_resolved_against_the_given_folder_with_its_options_kept(tmp_path: Path) -> None:
    assert (
        RocksDBStore.resolve_url("rocksdb://state?sync=always", tmp_path) == f"rocksdb://{tmp_path}/state?sync=always"
    )
    assert RocksDBStore.resolve_url("rocksdb://../shared/db", tmp_path) == f"rocksdb://{tmp_path}/../shared/db"


def test_an_empty_path_is_the_default_directory_beside_the_file(tmp_path: Path) -> None:
    assert RocksDBStore.resolve_url("rocksdb://", tmp_path) == f"rocksdb://{tmp_path}/.flowbuilder"


def test_absolute_and_home_paths_are_kept(tmp_path: Path) -> None:
    assert RocksDBStore.resolve_url("rocksdb:///srv/runs", tmp_path) == "rocksdb:///srv/runs"
    assert RocksDBStore.resolve_url("rocksdb://~/runs", tmp_path) == "rocksdb://~/runs"


def test_no_store_exists_at_a_missing_path_or_an_empty_directory(tmp_path: Path) -> None:
    assert RocksDBStore.exists(f"rocksdb://{tmp_path / 'missing'}") is False
    (tmp_path / "empty").mkdir()
    assert RocksDBStore.exists(f"rocksdb://{tmp_path / 'empty'}") is False
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty"]


def test_a_store_exists_once_opened_and_anything_else_there_is_left_to_open_to_judge(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path / 'db'}"
    RocksDBStore.open(url).close()
    assert RocksDBStore.exists(url) is True
    (tmp_path / "a-file").write_text("not a store")
    assert RocksDBStore.exists(f"rocksdb://{tmp_path / 'a-file'}") is True  # open() says it is a file


def test_a_negative_log_cap_is_refused_as_on_redis(tmp_path: Path) -> None:
    """``max_log_bytes=-5`` was taken (and kept no log line of a run)."""
    from flowbuilder.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"max_log_bytes='-5' must be a whole number >= 0"):
        RocksDBStore.open(f"rocksdb://{tmp_path}/db?max_log_bytes=-5")
    assert not (tmp_path / "db").exists()
