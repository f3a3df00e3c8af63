"""A checksum error inside an ``.sst`` table file: one line naming the file, exit 1, nothing overwritten,
and never a read that quietly stops at the damage as if the keys after it did not exist."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RocksDBStore

CLI = str(Path(sys.executable).with_name("flowbuilder"))
EVENTS = 3000


def store_in_table_files(path: Path) -> Path:
    """A store whose run "r" has EVENTS events, all moved into one table file by closing; that file."""
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        for seq in range(1, EVENTS + 1):
            event = RunEvent("r", seq, EventKind.TASK_ANNOTATED, task="t", data={"pad": os.urandom(60).hex()})
            store.append_events("r", [event], seq - 1)
    (table,) = path.glob("*.sst")
    return table


def damage(table: Path, offset: int) -> str:
    """Flip 16 bytes at ``offset``; return the damaged file's digest."""
    data = bytearray(table.read_bytes())
    for index in range(offset, offset + 16):
        data[index] ^= 0xFF
    table.write_bytes(bytes(data))
    return hashlib.sha256(bytes(data)).hexdigest()


def test_reading_past_a_damaged_block_raises_one_line_naming_the_file_instead_of_stopping_short(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db"
    table = store_in_table_files(path)
    digest = damage(table, table.stat().st_size // 2)  # a block among the run's events
    with RocksDBStore.open(f"rocksdb://{path}") as store, pytest.raises(StoreError) as caught:
        store.read_events("r")
    message = str(caught.value)
    assert "\n" not in message
    assert f"is damaged: block checksum mismatch in its table file {table.name} at offset" in message
    assert hashlib.sha256(table.read_bytes()).hexdigest() == digest  # nothing overwritten


def test_a_damaged_block_read_while_opening_is_one_line_on_the_cli_exit_1_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "db"
    table = store_in_table_files(path)
    damage(table, 0)  # the first block: the format key, read by every open
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in path.iterdir() if p.is_file()}
    result = subprocess.run([CLI, "runs", "list", "--store", f"rocksdb://{path}"], capture_output=True, text=True,
                            cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is damaged: block checksum mismatch" in lines[0] and table.name in lines[0], lines
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in path.iterdir() if p.is_file()}
    assert after == before


def test_showing_a_run_whose_events_are_damaged_is_one_line_on_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "db"
    table = store_in_table_files(path)
    damage(table, table.stat().st_size // 2)
    result = subprocess.run([CLI, "runs", "show", "r", "--store", f"rocksdb://{path}"], capture_output=True,
                            text=True, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and table.name in lines[0] and "internal error" not in lines[0], lines


ROUTED_READ = """
import sys
from flowbuilder.errors import StoreError
from flowbuilder_storage import RocksDBStore
store = RocksDBStore.open(sys.argv[1])
assert not store.is_owner
try:
    store.read_events("r")
except StoreError as error:
    print(error)
"""


def test_a_process_routed_to_the_owner_gets_the_same_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "db"
    table = store_in_table_files(path)
    damage(table, table.stat().st_size // 2)
    with RocksDBStore.open(f"rocksdb://{path}") as owner:
        assert owner.is_owner
        result = subprocess.run([sys.executable, "-c", ROUTED_READ, f"rocksdb://{path}"], capture_output=True,
                                text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"the store {path} is damaged: block checksum mismatch in its table file")
