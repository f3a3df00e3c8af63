"""Resume with the real runner: succeeded tasks are kept, started-but-unfinished ones run again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RocksDBStore

CLI = str(Path(sys.executable).with_name("flowbuilder"))


def workflow(directory: Path) -> tuple[Path, bytes]:
    ledger = directory / "ledger.txt"
    text = (
        "name: resumable\n"
        "tasks:\n"
        f'  - {{name: a, type: shell, config: {{command: "echo a >> {ledger}"}}}}\n'
        f'  - {{name: b, type: shell, depends_on: [a], config: {{command: "echo b >> {ledger}"}}}}\n'
        f'  - {{name: c, type: shell, depends_on: [b], config: {{command: "echo c >> {ledger}"}}}}\n'
    )
    path = directory / "resumable.yaml"
    path.write_text(text)
    return path, text.encode()


def interrupted_run(url: str, content: bytes, run_id: str) -> None:
    """A run recorded up to: a succeeded, b started (its process died with the runner)."""
    with RocksDBStore.open(url) as store:
        digest = store.save_definition(content)
        store.append_events(run_id, [
            RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "resumable", "version": "1",
                                                             "definition_hash": digest, "params": {}}),
            RunEvent(run_id, 2, EventKind.RUN_STARTED, data={"runner": "local", "resumed": False}),
            RunEvent(run_id, 3, EventKind.TASK_STARTED, task="a", attempt=1),
            RunEvent(run_id, 4, EventKind.TASK_SUCCEEDED, task="a", attempt=1, data={"output": None, "duration": 0.01}),
            RunEvent(run_id, 5, EventKind.TASK_STARTED, task="b", attempt=1),
        ], 0)  # fmt: skip


def successes(url: str, run_id: str) -> list[str]:
    with RocksDBStore.open(url) as store:
        return [e.task or "" for e in store.read_events(run_id) if e.kind is EventKind.TASK_SUCCEEDED]


def test_resume_runs_what_did_not_finish_and_keeps_what_succeeded(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/store"
    _, content = workflow(tmp_path)
    interrupted_run(url, content, "run-1")
    result = subprocess.run([CLI, "resume", "run-1", "--store", url], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ledger.txt").read_text().split() == ["b", "c"]
    assert successes(url, "run-1") == ["a", "b", "c"]


def test_run_with_resume_continues_the_latest_unfinished_run_of_the_workflow(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/store"
    path, content = workflow(tmp_path)
    interrupted_run(url, content, "run-2")
    result = subprocess.run([CLI, "run", str(path), "--resume", "--store", url], capture_output=True, text=True,
                            cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "run-2" in result.stdout
    assert (tmp_path / "ledger.txt").read_text().split() == ["b", "c"]
    listing = subprocess.run(
        [CLI, "runs", "list", "--json", "--store", url], capture_output=True, text=True, cwd=tmp_path
    )
    assert [(r["run_id"], r["status"]) for r in json.loads(listing.stdout)["runs"]] == [("run-2", "succeeded")]


def test_resume_uses_the_stored_definition_even_after_the_file_changed(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/store"
    path, content = workflow(tmp_path)
    interrupted_run(url, content, "run-3")
    path.write_text("name: resumable\ntasks:\n  - {name: z, type: shell, config: {command: 'echo z'}}\n")
    result = subprocess.run([CLI, "resume", "run-3", "--store", url], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert successes(url, "run-3") == ["a", "b", "c"]


def test_run_with_resume_and_no_unfinished_run_is_a_one_line_error(tmp_path: Path) -> None:
    path, _ = workflow(tmp_path)
    result = subprocess.run([CLI, "run", str(path), "--resume", "--store", f"rocksdb://{tmp_path}/store"],
                            capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: no unfinished run of workflow 'resumable' to resume; run it without --resume"]  # fmt: skip


def test_resume_shows_the_same_progress_and_summary_as_run(tmp_path: Path) -> None:
    """`resume --progress` prints a line per task state change and run's summary, as `run --progress`.

    (`--progress` since 0.2.0: off a terminal both commands are quiet by default, issue 10.)
    """
    url = f"rocksdb://{tmp_path}/store"
    _, content = workflow(tmp_path)
    interrupted_run(url, content, "run-5")
    result = subprocess.run([CLI, "resume", "run-5", "--store", url, "--progress"], capture_output=True, text=True,
                            cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" ", 1)[1].split(" in ")[0] for line in lines[:-1]] == [
        "b started (attempt 2)", "b succeeded (attempt 2)", "c started", "c succeeded"]  # fmt: skip
    assert lines[-1].startswith("run run-5: succeeded in ") and lines[-1].endswith("(3 succeeded)")


def test_resume_json_prints_the_events_it_records(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/store"
    _, content = workflow(tmp_path)
    interrupted_run(url, content, "run-6")
    result = subprocess.run([CLI, "resume", "run-6", "--json", "--store", url], capture_output=True, text=True,
                            cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["seq"] == 6 and records[-1]["kind"] == "run_finished"
    assert {record["run_id"] for record in records} == {"run-6"}
