"""Foreign, damaged and forbidden directories: one-line errors, nothing overwritten; torn tails recover."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from flowbuilder.errors import StoreError
from flowbuilder_storage import RocksDBStore

FILL = """
import sys
from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RocksDBStore
store = RocksDBStore.open(sys.argv[1] + "?sync=always")
for seq in range(1, 201):
    store.append_events("r", [RunEvent("r", seq, EventKind.TASK_ANNOTATED, task="t", data={"pad": "x" * 100})], seq - 1)
print("filled", flush=True)
sys.stdin.readline()
"""


def crashed_store(tmp_path: Path) -> Path:
    """A store whose owner was SIGKILLed after 200 synced appends (its data only in the WAL)."""
    path = tmp_path / "db"
    process = subprocess.Popen([sys.executable, "-c", FILL, f"rocksdb://{path}"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "filled"
    process.kill()
    process.wait()
    return path


def newest_wal(path: Path) -> Path:
    return sorted(path.glob("*.log"))[-1]


def fingerprint(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir()) if p.is_file()}


def test_a_torn_wal_tail_is_recovered_to_the_last_good_record_and_reported(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    path = crashed_store(tmp_path)
    wal = newest_wal(path)
    os.truncate(wal, wal.stat().st_size - 50)  # the last record cut mid-write
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        assert store.last_seq("r") == 199
        assert [e.seq for e in store.read_events("r")] == list(range(1, 200))
    assert "dropped the damaged tail" in caplog.text and wal.name in caplog.text


def test_a_garbled_last_record_is_recovered_too(tmp_path: Path) -> None:
    path = crashed_store(tmp_path)
    wal = newest_wal(path)
    with wal.open("r+b") as stream:
        stream.seek(wal.stat().st_size - 30)
        stream.write(b"ZZZZZZZZ")
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        assert store.last_seq("r") == 199


def test_a_torn_tail_followed_only_by_an_empty_newer_log_is_recovered(tmp_path: Path) -> None:
    """A full disk leaves this: the write cut short, then an empty log RocksDB started while closing."""
    path = crashed_store(tmp_path)
    wal = newest_wal(path)
    os.truncate(wal, wal.stat().st_size - 50)
    (path / f"{int(wal.stem) + 4:06d}.log").touch()
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        assert [e.seq for e in store.read_events("r")] == list(range(1, 200))


def test_a_torn_tail_followed_by_a_newer_log_with_records_is_damage_in_the_middle(tmp_path: Path) -> None:
    path = crashed_store(tmp_path)
    wal = newest_wal(path)
    newer = path / f"{int(wal.stem) + 4:06d}.log"
    shutil.copyfile(wal, newer)
    os.truncate(wal, wal.stat().st_size - 50)
    before = fingerprint(path)
    with pytest.raises(StoreError, match=rf"in the middle of its write-ahead log: {wal.name} at offset \d+"):
        RocksDBStore.open(f"rocksdb://{path}")
    assert fingerprint(path) == before


def test_damage_in_the_middle_of_the_wal_names_file_and_offset_and_changes_nothing(tmp_path: Path) -> None:
    path = crashed_store(tmp_path)
    wal = newest_wal(path)
    with wal.open("r+b") as stream:
        stream.seek(5000)
        stream.write(b"X" * 16)
    before = fingerprint(path)
    with pytest.raises(StoreError, match=rf"{wal.name} at offset \d+") as caught:
        RocksDBStore.open(f"rocksdb://{path}")
    assert "\n" not in str(caught.value)
    assert fingerprint(path) == before


def test_a_damaged_manifest_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "db"
    RocksDBStore.open(f"rocksdb://{path}").close()
    (path / "CURRENT").write_text("MANIFEST-999999\n")
    before = fingerprint(path)
    with pytest.raises(StoreError) as caught:
        RocksDBStore.open(f"rocksdb://{path}")
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    assert fingerprint(path) == before


def test_a_store_that_lost_its_current_file_is_refused_unchanged_not_recreated_empty(tmp_path: Path) -> None:
    """CURRENT gone, tables and log still there: the directory was taken for a store being
    created, so opening it started a new, empty database over it (CURRENT and MANIFEST-000001
    written even by `runs list`, which then said "no runs"), and the next write's open deleted
    the old tables and log as obsolete: every run lost. Now: one line, nothing written, and
    the hint it gives (name the newest MANIFEST in CURRENT) brings every run back."""
    path = crashed_store(tmp_path)
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        store.compact()  # table files as well as the log
    (path / "CURRENT").unlink()
    before = fingerprint(path)
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    for args in (["runs", "list"], ["runs", "show", "r"]):
        result = subprocess.run([cli, *args, "--store", f"rocksdb://{path}"], capture_output=True, text=True)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert "its CURRENT file is missing, yet it holds data" in lines[0] and str(path) in lines[0]
    with pytest.raises(StoreError, match=r"echo (MANIFEST-\d+) > ") as caught:
        RocksDBStore.open(f"rocksdb://{path}")
    assert fingerprint(path) == before
    manifest = caught.value.args[0].split("`echo ")[1].split(" ")[0]
    (path / "CURRENT").write_text(manifest + "\n")
    with RocksDBStore.open(f"rocksdb://{path}") as store:
        assert store.last_seq("r") == 200


def test_a_store_directory_deleted_while_open_is_an_error_on_close_not_nothing_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """RocksDB writes on into the files it holds open, so a run whose store directory was
    deleted mid-run ended "succeeded", exit 0, with a warning that "nothing is lost, the next
    open replays the log" — there was no log left. Now closing says what happened."""
    from flowbuilder.events import EventKind, RunEvent

    path = tmp_path / "db"
    store = RocksDBStore.open(f"rocksdb://{path}")
    store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED, data={"workflow": "w"})], 0)
    shutil.rmtree(path)
    store.append_events("r", [RunEvent("r", 2, EventKind.RUN_STARTED)], 1)  # into the deleted files
    with pytest.raises(StoreError, match=rf"^the store directory {path} was deleted or moved while this process"):
        store.close()
    assert "nothing is lost" not in caplog.text
    moved = tmp_path / "moved"
    store = RocksDBStore.open(f"rocksdb://{path}")
    store.append_events("s", [RunEvent("s", 1, EventKind.RUN_CREATED, data={"workflow": "w"})], 0)
    path.rename(moved)
    with pytest.raises(StoreError, match="went with it"):
        store.close()
    with RocksDBStore.open(f"rocksdb://{moved}") as store:  # what a move took along is there
        assert store.last_seq("s") == 1


def test_a_foreign_rocksdb_database_is_refused_unchanged(tmp_path: Path) -> None:
    import rocksdict

    path = tmp_path / "foreign"
    foreign = rocksdict.Rdict(str(path), rocksdict.Options(raw_mode=True))
    foreign.put(b"their-key", b"their-value")
    foreign.close()
    del foreign
    before = fingerprint(path)
    with pytest.raises(StoreError, match="not a FlowBuilder store"):
        RocksDBStore.open(f"rocksdb://{path}")
    assert fingerprint(path) == before


def test_a_directory_of_other_files_is_refused_unchanged(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a FlowBuilder store"):
        RocksDBStore.open(f"rocksdb://{tmp_path}")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_file_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        RocksDBStore.open(f"rocksdb://{tmp_path}/file")


def _powerless_as_root() -> list[str]:
    """The command prefix that strips root of its power to ignore file permissions.

    Root becomes the owner of the virtualenv running these tests -- who can reach the
    checkout and its interpreter however private the folder around them (a 0700
    ``mktemp -d``) -- with every capability dropped, so permission bits apply to it as to
    any user. Switching to ``nobody`` instead would leave it unable to start the CLI there.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is missing: cannot run the CLI without root's capabilities")
    owner = Path(sys.prefix).stat()
    prefix = [setpriv, f"--reuid={owner.st_uid}", f"--regid={owner.st_gid}", "--clear-groups",
              "--inh-caps=-all", "--bounding-set=-all"]  # fmt: skip
    probe = subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"this system does not let root drop its capabilities: {probe.stderr.strip()}")
    return prefix


def run_cli_unprivileged(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user without root's power to ignore permissions (see _powerless_as_root)."""
    command = [str(Path(sys.executable).with_name("flowbuilder")), *args]
    if os.geteuid() == 0:
        command = [*_powerless_as_root(), *command]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def open_base() -> Iterator[Path]:
    """A scratch directory the CLI's user may traverse (it owns it, or it is 0755)."""
    base = Path(tempfile.mkdtemp(prefix="fb-perm-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_an_unwritable_directory_is_a_one_line_error_on_the_cli(open_base: Path) -> None:
    path = open_base / "locked"
    path.mkdir()
    path.chmod(0o500)
    workflow = open_base / "wf.yaml"
    workflow.write_text('name: w\ntasks:\n  - {name: a, type: shell, config: {command: "true"}}\n')
    workflow.chmod(0o644)
    result = run_cli_unprivileged(["run", "--store", f"rocksdb://{path}", str(workflow)], cwd=open_base)
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no permission to read and write" in lines[0], result.stderr
    assert list(path.iterdir()) == []


def test_an_unwritable_directory_holding_no_store_is_read_as_no_store(open_base: Path) -> None:
    path = open_base / "locked"
    path.mkdir()
    path.chmod(0o500)
    result = run_cli_unprivileged(["runs", "list", "--store", f"rocksdb://{path}"], cwd=open_base)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"no runs: there is no store at rocksdb://{path}\n"
    assert list(path.iterdir()) == []


def test_a_directory_that_cannot_be_reached_is_a_one_line_error_on_the_cli(open_base: Path) -> None:
    hidden = open_base / "hidden"
    hidden.mkdir()
    hidden.chmod(0)
    result = run_cli_unprivileged(["runs", "list", "--store", f"rocksdb://{hidden}/db"], cwd=open_base)
    hidden.chmod(0o700)
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no permission to reach" in lines[0], result.stderr
    assert list(hidden.iterdir()) == []
