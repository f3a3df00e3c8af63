"""Plugin (file) and webhook triggers as a user runs them: real processes, real files, real RocksDB.

``flowbuilder scheduler`` watches a workflow's ``on.source`` (core's ``file`` source here);
``flowbuilder trigger`` delivers a webhook payload. Runs are read back from the store after
every process that serves it has ended.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_schedules_cli import WAIT, Scheduler, runs_with_params

INBOX_WORKFLOW = (
    "name: inbox\n"
    "on: {source: {type: file, config: {directory: incoming, pattern: '*.csv', poll: 0.1}}}\n"
    "params:\n"
    "  path: {type: string}\n"
    "tasks:\n"
    "  - name: count\n"
    "    type: shell\n"
    "    config: {command: 'wc -l < \"${{ params.path }}\"'}\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def wait_until(condition, timeout: float = WAIT) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- file arrivals (a plugin trigger source) ------------------------------------------------


def test_each_arriving_file_starts_one_run_even_with_two_leading_schedulers_on_one_rocksdb_store(
    scratch_dir: Path,
) -> None:
    """With `--consensus noop` both processes watch the folder and lead; the newer one's fencing
    token (its start time) deposes the older at its first claim, so each file gets one run."""
    workflow = write(scratch_dir, "inbox.yaml", INBOX_WORKFLOW)
    (scratch_dir / "incoming").mkdir()
    args = (str(workflow), "--store", "rocksdb://state", "--consensus", "noop")
    older = Scheduler(scratch_dir, *args)
    schedulers = [older]
    try:
        older.wait_for("leading since")
        newer = Scheduler(scratch_dir, *args)
        schedulers.append(newer)
        newer.wait_for("leading since")
        for n in range(1, 4):
            write(scratch_dir / "incoming", f"batch-{n}.csv", "row\n" * n)
        write(scratch_dir / "incoming", "notes.txt", "not a csv\n")
        write(scratch_dir / "incoming", ".partial.csv", "hidden\n")
        wait_until(lambda: newer.said("for event batch-") >= 3 and newer.said("succeeded") >= 3)
        assert older.process.wait(timeout=WAIT) == 1, "\n".join(older.lines)
        older._reader.join(timeout=10)
        assert older.lines[-1].startswith("error: the store refused a write fenced with token"), older.lines[-1]
        time.sleep(1.0)  # more looks at the folder: nothing else may start
        assert newer.terminate() == 0
    finally:
        for scheduler in schedulers:
            scheduler.ensure_dead()
    runs = runs_with_params("rocksdb://state", "inbox", scratch_dir)
    paths = sorted(str(run["params"]["path"]) for run in runs)  # type: ignore[index]
    assert paths == [str((scratch_dir / "incoming" / f"batch-{n}.csv").resolve()) for n in range(1, 4)]
    assert all(run["status"] == "succeeded" for run in runs)
    assert older.said(": started run") == 0 and newer.said(": started run") == 3, "one run per file, the newer's"


def test_a_standby_scheduler_watches_nothing_and_takes_over_the_folder_when_the_leader_dies(
    scratch_dir: Path,
) -> None:
    workflow = write(scratch_dir, "inbox.yaml", INBOX_WORKFLOW)
    (scratch_dir / "incoming").mkdir()
    args = (str(workflow), "--store", "rocksdb://state", "--lease-seconds", "1")
    first = Scheduler(scratch_dir, *args)
    second: Scheduler | None = None
    try:
        first.wait_for("leading since")
        second = Scheduler(scratch_dir, *args)
        second.wait_for("standby: waiting for leadership")
        write(scratch_dir / "incoming", "a.csv", "1\n")
        first.wait_for("for event a.csv")
        first.wait_for("succeeded")
        first.kill()
        write(scratch_dir / "incoming", "b.csv", "1\n2\n")
        second.wait_for("leading since")
        second.wait_for("for event b.csv")
        second.wait_for("succeeded")
        time.sleep(0.5)
        assert second.said(": started run") == 1, "a.csv already had its run; only b.csv starts one"
        assert second.terminate() == 0
    finally:
        first.ensure_dead()
        if second is not None:
            second.ensure_dead()
    runs = runs_with_params("rocksdb://state", "inbox", scratch_dir)
    assert sorted(Path(str(run["params"]["path"])).name for run in runs) == ["a.csv", "b.csv"]  # type: ignore[index]


def test_a_missing_directory_is_logged_and_watched_again_until_it_exists(scratch_dir: Path) -> None:
    workflow = write(scratch_dir, "inbox.yaml", INBOX_WORKFLOW)
    scheduler = Scheduler(scratch_dir, str(workflow), "--store", "rocksdb://state")
    try:
        scheduler.wait_for("trigger source file failed: no directory 'incoming'")
        assert scheduler.process.poll() is None, "a failing source never ends the scheduler"
        (scratch_dir / "incoming").mkdir()
        write(scratch_dir / "incoming", "late.csv", "x\n")
        scheduler.wait_for("for event late.csv")
        scheduler.wait_for("succeeded")
        assert scheduler.terminate() == 0
    finally:
        scheduler.ensure_dead()
    assert not any("Traceback" in line for line in scheduler.lines)


def test_a_payload_the_params_refuse_is_logged_with_the_reason_and_starts_nothing(scratch_dir: Path) -> None:
    workflow = write(scratch_dir, "typed.yaml", INBOX_WORKFLOW.replace("name: inbox", "name: typed").replace(
        "path: {type: string}", "path: {type: integer}"))  # fmt: skip
    (scratch_dir / "incoming").mkdir()
    write(scratch_dir / "incoming", "x.csv", "1\n")
    scheduler = Scheduler(scratch_dir, str(workflow), "--store", "rocksdb://state")
    try:
        scheduler.wait_for("starts nothing: its payload is refused: param 'path':")
        time.sleep(0.5)
        assert scheduler.said(": started run") == 0
        assert scheduler.terminate() == 0
    finally:
        scheduler.ensure_dead()
    assert runs_with_params("rocksdb://state", "typed", scratch_dir) == []


def test_an_unknown_source_or_a_bad_config_is_a_located_error(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    unknown = write(scratch_dir, "unknown.yaml", INBOX_WORKFLOW.replace("type: file", "type: fiel"))
    done = run_cli("validate", unknown)
    assert done.returncode == 2
    assert "unknown.yaml:2:21: unknown trigger source 'fiel' (hint: did you mean 'file'?" in done.stderr
    bad = write(scratch_dir, "bad.yaml", INBOX_WORKFLOW.replace("directory: incoming", "directroy: incoming").replace(
        "poll: 0.1", "poll: -5"))  # fmt: skip
    done = run_cli("scheduler", bad, "--once")
    assert done.returncode == 2, done.stderr
    assert re.search(r"bad\.yaml:2:\d+: file trigger config: unknown field 'directroy'", done.stderr)
    assert re.search(r"bad\.yaml:2:\d+: file trigger config: poll: input should be greater than", done.stderr)
    assert "Traceback" not in done.stderr


# -- webhooks: `flowbuilder trigger` ----------------------------------------------------------

HOOK_WORKFLOW = (
    "name: hook\n"
    "on: {webhook: {secret_env: HOOK_SECRET}}\n"
    "params:\n"
    "  day: {type: string}\n"
    "  count: {type: integer, default: 1}\n"
    "tasks:\n"
    "  - name: echo\n"
    "    type: shell\n"
    "    config: {command: 'echo day=${{ params.day }} count=${{ params.count }}'}\n"
)


def test_a_delivery_starts_one_run_with_its_payload_as_params_and_a_repeated_id_none(
    run_cli, scratch_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    hook = write(scratch_dir, "hook.yaml", HOOK_WORKFLOW)
    first = run_cli("trigger", hook, "--data", '{"day": "2026-12-05", "count": "3"}', "--id", "gh-1",
                    "--store", "rocksdb://state")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(r"run [0-9a-f]{32} succeeded\n", first.stdout)
    again = run_cli("trigger", hook, "--data", '{"day": "2026-12-06"}', "--id", "gh-1", "--store", "rocksdb://state")
    assert again.returncode == 0
    assert again.stdout == f"delivery gh-1 already started {first.stdout.split()[0]} {first.stdout.split()[1]}\n"
    other = run_cli("trigger", hook, "--data", '{"day": "2026-12-07"}', "--store", "rocksdb://state")
    assert other.returncode == 0, other.stderr
    runs = runs_with_params("rocksdb://state", "hook", scratch_dir)
    assert sorted((run["params"]["day"], run["params"]["count"]) for run in runs) == [  # type: ignore[index]
        ("2026-12-05", 3), ("2026-12-07", 1)]  # fmt: skip


def test_a_failing_triggered_run_exits_1(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    hook = write(scratch_dir, "hook.yaml", HOOK_WORKFLOW.replace("echo day=", "exit 4; echo day="))
    done = run_cli("trigger", hook, "--data", '{"day": "d"}', "--store", "rocksdb://state")
    assert done.returncode == 1 and done.stdout.endswith("failed\n")


HUGE = json.dumps({"day": "x" * (1024 * 1024 + 10)})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "--data is not JSON"),
        ("[1, 2]", "its payload must be a JSON object (name: value), not list"),
        ('"text"', "not str"),
        ('{"day": NaN}', "its payload is not JSON data"),
        ('{"day": "\\ud800"}', "its payload holds a lone surrogate"),  # refused before its id is claimed
        ('{"dya": "x"}', "unknown param 'dya' for workflow 'hook' (declared: count, day)"),
        ('{"day": "d", "count": "many"}', "param 'count': 'many' is not an integer"),
        ('{"day": "d", "count": -99999999999999999999999}', None),  # an integer; the run may take it
        ("{}", "param 'day' of workflow 'hook' is required"),
        ("@huge.json", "its payload is 1048"),
        ("@binary.dat", "the file is not UTF-8 text"),
        ("@missing.json", "cannot read the file"),
        ("@pipe", "the file is empty"),  # a FIFO nobody writes to: waited forever for a writer
        ("[" * 30000 + "]" * 30000, "--data is not JSON"),
    ],
)
def test_a_hostile_payload_is_refused_in_one_line_and_starts_nothing(run_cli, scratch_dir: Path, data: str,  # type: ignore[no-untyped-def]
                                                                     message: str | None) -> None:  # fmt: skip
    hook = write(scratch_dir, "hook.yaml", HOOK_WORKFLOW)
    write(scratch_dir, "huge.json", HUGE)
    (scratch_dir / "binary.dat").write_bytes(bytes(range(256)) * 40)
    os.mkfifo(scratch_dir / "pipe")
    done = run_cli("trigger", hook, "--data", data, "--store", "rocksdb://state", timeout=WAIT)
    if message is None:
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert runs_with_params("rocksdb://state", "hook", scratch_dir) == []


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        ("", "its id must be non-empty text"),
        ("x" * 513, "its id has 513 characters; at most 512"),
        ("a\tb", "control character"),
    ],
)
def test_a_bad_delivery_id_is_refused(run_cli, scratch_dir: Path, delivery: str, message: str) -> None:  # type: ignore[no-untyped-def]
    hook = write(scratch_dir, "hook.yaml", HOOK_WORKFLOW)
    done = run_cli("trigger", hook, "--data", '{"day": "d"}', "--id", delivery, "--store", "rocksdb://state")
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_trigger_refuses_a_workflow_without_a_webhook_and_an_invalid_one(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    plain = write(
        scratch_dir, "plain.yaml", "name: plain\ntasks:\n  - {name: a, type: shell, config: {command: echo}}\n"
    )
    done = run_cli("trigger", plain, "--data", "{}")
    assert done.returncode == 1 and "has no webhook trigger; add `on: {webhook: {}}`" in done.stderr
    bad = write(scratch_dir, "bad.yaml", HOOK_WORKFLOW.replace("secret_env: HOOK_SECRET", "secret_env: 'no spaces'"))
    done = run_cli("trigger", bad, "--data", "{}")
    assert done.returncode == 2 and "bad.yaml:2:" in done.stderr and "secret_env" in done.stderr
    only_hook = run_cli("scheduler", write(scratch_dir, "hook.yaml", HOOK_WORKFLOW), "--once")
    assert only_hook.returncode == 1 and "has only a webhook trigger" in only_hook.stderr


# -- the docs' examples run -------------------------------------------------------------------


def test_the_dsl_docs_source_and_webhook_examples_run(run_cli, repo_root: Path, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    dsl = (repo_root / "docs" / "dsl.md").read_text(encoding="utf-8")
    section = dsl.split("### Trigger sources", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "one file-source and one webhook example"
    arrivals = write(scratch_dir, "arrivals.yaml", blocks[0])
    hook = write(scratch_dir, "hook.yaml", blocks[1])
    assert run_cli("validate", arrivals).returncode == 0
    (scratch_dir / "inbox").mkdir()
    write(scratch_dir / "inbox", "orders.csv", "id\n1\n2\n")
    scheduler = Scheduler(scratch_dir, str(arrivals), "--store", "rocksdb://state")
    try:
        scheduler.wait_for("for event orders.csv")
        scheduler.wait_for("succeeded")
        assert scheduler.terminate() == 0
    finally:
        scheduler.ensure_dead()
    done = run_cli("trigger", hook, "--data", '{"ref": "refs/heads/main"}', "--id", "delivery-1",
                   "--store", "rocksdb://state")  # fmt: skip
    assert done.returncode == 0, done.stderr
    code = ("import sys\nfrom flowbuilder.webhooks import signature, signature_matches\n"
            "body = b'{\"ref\": \"main\"}'\nsigned = signature(b's3cret', body)\n"
            "assert signature_matches(b's3cret', body, signed)\n"
            "assert not signature_matches(b's3cret', body + b' ', signed)\n"
            "assert not signature_matches(b'other', body, signed)\n"
            "assert not signature_matches(b's3cret', body, None) and not signature_matches(b'', body, signed)\n")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=WAIT)
