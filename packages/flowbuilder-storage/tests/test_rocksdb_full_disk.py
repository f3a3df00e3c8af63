"""A full disk under a ``rocksdb://`` store: a one-line "no space left" error, nothing acknowledged lost,
and a store that opens again once space is back. Tested on a real small filesystem (tmpfs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RocksDBStore

CLI = str(Path(sys.executable).with_name("flowbuilder"))


class SmallDisk:
    """A tmpfs of a fixed size mounted on a directory, with a ballast file to free space on demand."""

    def __init__(self, mount_point: Path):
        self.mount_point = mount_point
        self.ballast = mount_point / "ballast"

    def fill_ballast(self, megabytes: int) -> None:
        with self.ballast.open("wb") as stream:
            for _ in range(megabytes):
                stream.write(b"\0" * (1024 * 1024))

    def free_ballast(self) -> None:
        self.ballast.unlink()

    def grow(self, megabytes: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={megabytes}m", str(self.mount_point)], check=True)


def mount_small_disk(mount_point: Path, megabytes: int) -> SmallDisk:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine")
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not allowed here: {mounted.stderr.strip()}")
    return SmallDisk(mount_point)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 20 MB tmpfs; unmounted afterwards (lazily, so a failed test never leaves it behind)."""
    disk = mount_small_disk(tmp_path / "disk", 20)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk.mount_point)], check=False)


def big_event(seq: int) -> RunEvent:
    return RunEvent("r", seq, EventKind.TASK_ANNOTATED, task="t", data={"pad": "x" * 200_000})


def fill_until_refused(store: RocksDBStore) -> tuple[list[int], StoreError]:
    """Append 1 MB batches until the store refuses one; return the acknowledged seqs and the error."""
    acknowledged: list[int] = []
    seq = 0
    for _ in range(1000):
        batch = [big_event(seq + n) for n in range(1, 6)]
        try:
            seq = store.append_events("r", batch, seq)
        except StoreError as error:
            return acknowledged, error
        acknowledged.extend(e.seq for e in batch)
    raise AssertionError("the disk never filled up")


def test_a_full_disk_refuses_the_write_in_one_line_and_keeps_every_acknowledged_event(small_disk: SmallDisk) -> None:
    small_disk.fill_ballast(10)
    url = f"rocksdb://{small_disk.mount_point}/db"
    store = RocksDBStore.open(url)
    acknowledged, error = fill_until_refused(store)
    assert "no space left on device" in str(error) and "\n" not in str(error)
    assert "flowbuilder resume r" in str(error)
    store.close()  # nothing raised: the failure was reported where it happened
    assert len(acknowledged) >= 10

    small_disk.free_ballast()
    with RocksDBStore.open(url) as reopened:
        assert [e.seq for e in reopened.read_events("r")] == acknowledged
        assert reopened.append_events("r", [RunEvent("r", len(acknowledged) + 1, EventKind.TASK_ANNOTATED,
                                                     task="t")], len(acknowledged)) == len(acknowledged) + 1  # fmt: skip


def test_the_process_that_met_the_full_disk_writes_again_once_space_is_back(small_disk: SmallDisk) -> None:
    small_disk.fill_ballast(10)
    url = f"rocksdb://{small_disk.mount_point}/db"
    with RocksDBStore.open(url) as store:
        acknowledged, _ = fill_until_refused(store)
        next_event = RunEvent("r", len(acknowledged) + 1, EventKind.TASK_ANNOTATED, task="t")
        with pytest.raises(StoreError, match="no space left on device"):  # still full: still refused
            store.append_events("r", [next_event], len(acknowledged))
        assert [e.seq for e in store.read_events("r")] == acknowledged  # reads carry on meanwhile
        small_disk.free_ballast()
        assert store.append_events("r", [next_event], len(acknowledged)) == len(acknowledged) + 1
        assert [e.seq for e in store.read_events("r")] == [*acknowledged, len(acknowledged) + 1]
    with RocksDBStore.open(url) as again:
        assert again.last_seq("r") == len(acknowledged) + 1


def test_a_store_on_a_disk_still_full_opens_read_only_refuses_writes_in_one_line_and_writes_once_space_is_back(
    small_disk: SmallDisk,
) -> None:
    small_disk.fill_ballast(10)
    url = f"rocksdb://{small_disk.mount_point}/db"
    store = RocksDBStore.open(url)
    acknowledged, _ = fill_until_refused(store)
    store.close()
    with RocksDBStore.open(url) as reopened:  # opening for writing needs room to move the log into tables
        assert [e.seq for e in reopened.read_events("r")] == acknowledged
        next_event = RunEvent("r", len(acknowledged) + 1, EventKind.TASK_ANNOTATED, task="t")
        with pytest.raises(StoreError, match="no space left on device to open the store") as caught:
            reopened.append_events("r", [next_event], len(acknowledged))
        assert "\n" not in str(caught.value) and "free disk space" in str(caught.value)
        small_disk.grow(64)
        assert reopened.append_events("r", [next_event], len(acknowledged)) == len(acknowledged) + 1
    with RocksDBStore.open(url) as again:
        assert [e.seq for e in again.read_events("r")] == [*acknowledged, len(acknowledged) + 1]


def big_outputs(count: int) -> str:
    """``count`` tasks printing 1 MB each (separate tasks: one output stays under max_output_bytes)."""
    tasks = "".join(
        f"  - {{name: emit{i}, type: shell, config: {{command: \"head -c 1000000 /dev/zero | tr '\\\\0' x\"}}}}\n"
        for i in range(count)
    )
    return f"name: big-outputs\ntasks:\n{tasks}"


def test_a_run_filling_the_disk_exits_1_with_one_line_stays_readable_and_resumes_once_space_is_back(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    workflow = tmp_path / "big.yaml"
    workflow.write_text(big_outputs(40))
    store = f"rocksdb://{small_disk.mount_point}/db"
    small_disk.fill_ballast(4)
    result = subprocess.run([CLI, "run", str(workflow), "--store", store, "-c", "4"],
                            capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no space left on device"), result.stderr
    assert "internal error" not in result.stderr

    full = subprocess.run([CLI, "runs", "list", "--json", "--store", store], capture_output=True, text=True,
                          cwd=tmp_path)  # fmt: skip
    assert full.returncode == 0, full.stderr  # still full: read-only, every run readable
    assert "opened the store" in full.stderr and "read-only" in full.stderr
    assert [r["workflow"] for r in json.loads(full.stdout)["runs"]] == ["big-outputs"]

    small_disk.free_ballast()
    listing = subprocess.run([CLI, "runs", "list", "--json", "--store", store], capture_output=True, text=True,
                             cwd=tmp_path)  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    runs = json.loads(listing.stdout)["runs"]
    assert [r["workflow"] for r in runs] == ["big-outputs"]
    shown = subprocess.run([CLI, "runs", "show", runs[0]["run_id"], "--store", store], capture_output=True,
                           text=True, cwd=tmp_path)  # fmt: skip
    assert shown.returncode == 0, shown.stderr

    small_disk.grow(160)  # room for every output: the run resumes and finishes
    resumed = subprocess.run([CLI, "resume", runs[0]["run_id"], "--store", store], capture_output=True, text=True,
                             cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    final = subprocess.run([CLI, "runs", "list", "--json", "--store", store], capture_output=True, text=True,
                           cwd=tmp_path)  # fmt: skip
    assert [r["status"] for r in json.loads(final.stdout)["runs"]] == ["succeeded"]


def test_a_log_that_looks_torn_on_a_still_full_disk_is_reported_as_the_full_disk_not_as_damage(
    small_disk: SmallDisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk can tear a record where the WAL scan does not place it: while the disk is still
    full that is the full disk speaking (never "restore from a backup"); with room, the check speaks."""
    from flowbuilder_storage import _rocks_engine

    small_disk.fill_ballast(10)
    url = f"rocksdb://{small_disk.mount_point}/db"
    with RocksDBStore.open(url) as store:
        acknowledged, _ = fill_until_refused(store)

        def torn(self: object, rocksdict: object) -> str:
            raise StoreError("the store is damaged (Corruption: truncated record body) outside its write-ahead log")

        monkeypatch.setattr(_rocks_engine.RocksEngine, "_verify_existing", torn)
        next_event = RunEvent("r", len(acknowledged) + 1, EventKind.TASK_ANNOTATED, task="t")
        with pytest.raises(StoreError, match="no space left on device"):
            store.append_events("r", [next_event], len(acknowledged))
        small_disk.free_ballast()
        with pytest.raises(StoreError, match="damaged"):
            store.append_events("r", [next_event], len(acknowledged))
        assert [e.seq for e in store.read_events("r")] == acknowledged
