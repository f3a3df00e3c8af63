"""The examples under examples/ run as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_synchronous_api_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "python-api" / "run_sync.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "succeeded total = 285 report = total=285" in done.stdout


def test_the_many_runs_example_runs_and_cancels() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "python-api" / "run_many.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "50 runs done" in done.stdout and "slow run: cancelled" in done.stdout


def _run_cleanup_example(tmp_path: Path, *params: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    flowbuilder = str(Path(sys.executable).with_name("flowbuilder"))
    scratch = tmp_path / "scratch"
    done = subprocess.run(
        [flowbuilder, "run", "--json", "--store", "memory://", str(EXAMPLES / "cleanup" / "cleanup.yaml"),
         "--param", f"workdir={scratch}", *params],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert not scratch.exists(), "the scratch directory is removed whatever happened"
    return done, [json.loads(line) for line in done.stdout.splitlines()]


def test_the_cleanup_example_removes_its_scratch_after_a_failure_and_reports_it(tmp_path: Path) -> None:
    done, events = _run_cleanup_example(tmp_path, "--param", "fail=true")
    assert done.returncode == 1, done.stderr  # the run failed, though its cleanup succeeded
    outputs = {e["task"]: e["data"]["output"] for e in events if e["kind"] == "task_succeeded"}
    assert outputs["remove_scratch"] == "removed"
    assert outputs["report_failure"] == "cleanup run failed: transform failed, publish skipped"
    assert {e["task"] for e in events if e["kind"] == "task_skipped"} == {"publish"}
    assert events[-1]["data"]["status"] == "failed"


def test_the_cleanup_example_skips_the_failure_report_when_all_went_well(tmp_path: Path) -> None:
    done, events = _run_cleanup_example(tmp_path)
    assert done.returncode == 0, done.stderr
    skipped = {e["task"]: e["data"]["reason"] for e in events if e["kind"] == "task_skipped"}
    assert skipped == {"report_failure": "run_if any_failed: no dependency failed"}
    assert events[-1]["data"]["status"] == "succeeded"
