"""One workflow through every layer: CLI, runner, and each installed durable store.

A run of the quick-start example is recorded in a store given with ``--store``, then read
back by a second process (``runs show``, ``logs``): what one process wrote, another reads.
Redis is a private server of this test on a free port (never the system one).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HELLO = Path(__file__).resolve().parent.parent / "examples" / "hello" / "hello.yaml"


def _run_id(stdout: str) -> str:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return events[0]["run_id"]


def test_a_run_recorded_by_one_process_is_read_back_by_another(run_cli, scratch_dir: Path, store_url: str) -> None:
    workflow = Path(shutil.copy(HELLO, scratch_dir / "hello.yaml"))
    ran = run_cli("run", "--json", "--store", store_url, workflow, "--param", "who=store")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = _run_id(ran.stdout)

    shown = run_cli("runs", "show", "--json", "--store", store_url, run_id)
    assert shown.returncode == 0, shown.stderr
    assert '"succeeded"' in shown.stdout

    logs = run_cli("logs", "--store", store_url, run_id)
    assert logs.returncode == 0, logs.stderr
    assert "2: Hello, Store" in logs.stdout


def test_the_default_store_needs_no_server_and_keeps_runs_beside_the_work(run_cli, scratch_dir: Path) -> None:
    workflow = Path(shutil.copy(HELLO, scratch_dir / "hello.yaml"))
    ran = run_cli("run", "--json", workflow)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    listed = run_cli("runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert _run_id(ran.stdout) in listed.stdout


def test_reading_commands_in_a_folder_without_a_store_create_none(run_cli, scratch_dir: Path) -> None:
    listed = run_cli("runs", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == (
        "no runs: there is no store at rocksdb://.flowbuilder (the default store; --store URL to read another)\n"
    )
    shown = run_cli("runs", "show", "0123abcd")
    assert (
        shown.returncode == 1 and "no run '0123abcd' here: there is no store at rocksdb://.flowbuilder" in shown.stderr
    )
    assert list(scratch_dir.iterdir()) == []


def test_a_relative_rocksdb_path_in_flowbuilder_toml_is_beside_that_file(run_cli, scratch_dir: Path) -> None:
    (scratch_dir / "flowbuilder.toml").write_text('store = "rocksdb://state"\n')
    below = scratch_dir / "pipelines" / "daily"
    below.mkdir(parents=True)
    workflow = Path(shutil.copy(HELLO, below / "hello.yaml"))
    ran = run_cli("run", "--json", workflow.name, cwd=below)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (scratch_dir / "state" / "CURRENT").is_file()
    assert sorted(path.name for path in below.iterdir()) == ["hello.yaml"]
    listed = run_cli("runs", "list", "--json")  # from the file's own folder: the same store
    assert _run_id(ran.stdout) in listed.stdout
