"""``flowbuilder retry`` of a finished run, with real processes on RocksDB and Redis (issue 11, item 6).

A 100-task workflow fails on one task while a flag file exists; the test removes the flag
and retries: only the failed task and its downstream tasks get new ``task_started`` events,
under the same run id, with attempt numbers continuing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

WORKERS = 90
CHAIN = 8


def _hundred_tasks() -> str:
    lines = ["name: hundred", "on_failure: continue", "tasks:",
             "  - {name: prep, type: shell, config: {command: 'true'}}"]  # fmt: skip
    lines += [f"  - {{name: w{i:02d}, type: shell, depends_on: [prep], config: {{command: 'true'}}}}"
              for i in range(WORKERS)]  # fmt: skip
    lines.append("  - {name: flaky, type: shell, depends_on: [prep], config: {command: 'test ! -f broken'}}")
    previous = "flaky"
    for i in range(CHAIN):
        lines.append(f"  - {{name: d{i}, type: shell, depends_on: [{previous}], config: {{command: 'echo ok'}}}}")
        previous = f"d{i}"
    return "\n".join(lines) + "\n"


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _started(events: list[dict[str, Any]]) -> dict[str, int]:
    return {e["task"]: e["attempt"] for e in events if e["kind"] == "task_started"}


@pytest.fixture
def failed_run(scratch_dir: Path, run_cli: Callable[..., Any], store_url: str) -> str:
    (scratch_dir / "hundred.yaml").write_text(_hundred_tasks())
    (scratch_dir / "broken").touch()
    result = run_cli("run", "--json", "--store", store_url, "hundred.yaml")
    assert result.returncode == 1, result.stderr
    events = _events(result.stdout)
    assert len(_started(events)) == 1 + WORKERS + 1  # the chain below flaky was skipped
    return str(events[0]["run_id"])


def test_retry_reruns_only_the_failed_task_and_its_downstream(failed_run: str, scratch_dir: Path,
                                                             run_cli: Callable[..., Any], store_url: str) -> None:  # fmt: skip
    (scratch_dir / "broken").unlink()
    result = run_cli("retry", "--json", "--store", store_url, failed_run)
    assert result.returncode == 0, result.stderr
    events = _events(result.stdout)
    assert {e["run_id"] for e in events} == {failed_run}
    assert _started(events) == {"flaky": 2, **{f"d{i}": 1 for i in range(CHAIN)}}
    opened = [e for e in events if e["kind"] == "run_started"]
    assert opened[0]["data"]["retry"]["previous_status"] == "failed"
    assert events[-1]["kind"] == "run_finished" and events[-1]["data"]["status"] == "succeeded"

    shown = run_cli("runs", "show", "--json", "--store", store_url, failed_run)
    state = json.loads(shown.stdout)["state"]
    assert state["status"] == "succeeded"
    assert [r["rerun"] for r in state["retries"]] == [["flaky", *(f"d{i}" for i in range(CHAIN))]]
    assert all(task["status"] == "succeeded" for task in state["tasks"].values())
    text = run_cli("runs", "show", "--store", store_url, failed_run).stdout
    assert "retry 1    after failed" in text


def test_retry_from_reruns_downstream_even_if_it_succeeded(failed_run: str, scratch_dir: Path,
                                                          run_cli: Callable[..., Any], store_url: str) -> None:  # fmt: skip
    (scratch_dir / "broken").unlink()
    assert run_cli("retry", "--store", store_url, failed_run).returncode == 0
    result = run_cli("retry", "--json", "--from", "d5", "--store", store_url, failed_run)
    assert result.returncode == 0, result.stderr
    assert _started(_events(result.stdout)) == {"d5": 2, "d6": 2, "d7": 2}


def test_retry_only_reruns_that_task_and_unsucceeded_downstream(failed_run: str, scratch_dir: Path,
                                                               run_cli: Callable[..., Any], store_url: str) -> None:  # fmt: skip
    (scratch_dir / "broken").unlink()
    result = run_cli("retry", "--json", "--only", "w07", "--only", "flaky", "--store", store_url, failed_run)
    assert result.returncode == 0, result.stderr
    assert _started(_events(result.stdout)) == {"w07": 2, "flaky": 2, **{f"d{i}": 1 for i in range(CHAIN)}}
    again = run_cli("retry", "--json", "--only", "d2", "--store", store_url, failed_run)
    assert _started(_events(again.stdout)) == {"d2": 2}  # d3.. succeeded: kept
    text = run_cli("runs", "show", "--store", store_url, failed_run).stdout
    assert "retry 1    after failed --only w07 --only flaky: events from" in text
    assert "retry 2    after succeeded --only d2: events from" in text


def test_retry_keeps_a_failure_outside_only(failed_run: str, run_cli: Callable[..., Any], store_url: str) -> None:
    result = run_cli("retry", "--json", "--only", "w03", "--store", store_url, failed_run)
    assert result.returncode == 1, result.stderr  # flaky's failure is kept: the run still failed
    assert _started(_events(result.stdout)) == {"w03": 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "nope"], "the run's workflow has no task 'nope'"),
        (["--from", "d3"], "task 'd3' depends on 'd2', which did not succeed"),
    ],
)
def test_retry_refuses_in_one_line(failed_run: str, run_cli: Callable[..., Any], store_url: str,
                                   args: list[str], message: str) -> None:  # fmt: skip
    result = run_cli("retry", *args, "--store", store_url, failed_run)
    assert result.returncode == 2 or result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_retry_of_an_unknown_or_succeeded_run_is_refused(failed_run: str, scratch_dir: Path,
                                                         run_cli: Callable[..., Any], store_url: str) -> None:  # fmt: skip
    unknown = run_cli("retry", "--store", store_url, "0" * 32)
    assert unknown.returncode not in (0, 70) and "Traceback" not in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
    (scratch_dir / "broken").unlink()
    assert run_cli("retry", "--store", store_url, failed_run).returncode == 0
    again = run_cli("retry", "--store", store_url, failed_run)
    assert again.returncode not in (0, 70) and "nothing failed to retry" in again.stderr
    resumed = run_cli("resume", "--store", store_url, failed_run)
    assert "flowbuilder retry" in resumed.stderr
