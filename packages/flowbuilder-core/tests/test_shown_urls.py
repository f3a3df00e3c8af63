"""Store, bus, registry and workers URLs in messages show their password as ``***``:
`flowbuilder runs list --store 'redis://:s3cret@[::1'` printed the password in clear."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowbuilder.errors import NoStoreError, shown_url

CLI = str(Path(sys.executable).with_name("flowbuilder"))


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:s3cret@h:6379/0", "redis://:***@h:6379/0"),
    ("redis://me:s3cret@h/0?prefix=x", "redis://me:***@h/0?prefix=x"),
    ("rediss://me:s3cret@[::1]:6380/1", "rediss://me:***@[::1]:6380/1"),
    ("redis://:s3cret@[::1", "redis://***@[::1"),  # urlsplit refuses it
    ("redis://:s3cret@h:port/0", "redis://***@h:port/0"),
    ("redis://h:6379/0", "redis://h:6379/0"),
    ("rocksdb:///var/lib/flowbuilder", "rocksdb:///var/lib/flowbuilder"),
    ("memory://", "memory://"),
])  # fmt: skip
def test_a_password_is_shown_as_stars(url: str, shown: str) -> None:
    assert shown_url(url) == shown
    assert "s3cret" not in str(NoStoreError(url))


@pytest.mark.parametrize("args", [["runs", "list", "--store", "nosuch://u:s3cret@h/"],
                                  ["runs", "list", "--store", "redis://:s3cret@[::1"],
                                  ["run", "w.yaml", "--store", "memory://", "--workers", "nosuch://u:s3cret@h/"]])  # fmt: skip
def test_cli_errors_do_not_show_the_password(tmp_path: Path, args: list[str]) -> None:
    workflow = "name: w\ntasks:\n  - {name: t, type: shell, config: {command: 'true'}}\n"
    (tmp_path / "w.yaml").write_text(workflow)
    result = subprocess.run([CLI, *args], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "s3cret" not in result.stderr and "***@" in result.stderr, result.stderr


def test_the_store_option_help_does_not_show_the_password(tmp_path: Path) -> None:
    env = {**os.environ, "FLOWBUILDER_STORE": "redis://u:s3cret@127.0.0.1:1/0"}
    result = subprocess.run([CLI, "runs", "list", "--help"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0 and "s3cret" not in result.stdout and "u:***@" in result.stdout, result.stdout
