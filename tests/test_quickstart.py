"""The README's quick-start example, run the way a user runs it: the real CLI, offline.

The workflow is copied into a scratch directory so that whatever the default store writes
(``.flowbuilder/`` beside the workflow, for the embedded store) stays out of the checkout.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

HELLO = Path(__file__).resolve().parent.parent / "examples" / "hello" / "hello.yaml"


@pytest.fixture
def hello(scratch_dir: Path) -> Path:
    return Path(shutil.copy(HELLO, scratch_dir / "hello.yaml"))


def test_hello_example_is_valid(run_cli, hello: Path) -> None:
    result = run_cli("validate", hello)
    assert result.returncode == 0, result.stderr
    assert "ok (3 tasks, 3 levels)" in result.stdout


def test_hello_example_plans_as_a_chain_of_three(run_cli, hello: Path) -> None:
    result = run_cli("plan", "--json", hello)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["critical_path"] == ["greet", "title", "report"]
    assert summary["max_width"] == 1


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _outputs(events: list[dict]) -> dict[str, object]:
    return {e["task"]: e["data"]["output"] for e in events if e["kind"] == "task_succeeded"}


def test_hello_example_runs_offline_and_passes_outputs_downstream(run_cli, hello: Path) -> None:
    result = run_cli("run", "--json", hello)
    assert result.returncode == 0, result.stdout + result.stderr
    events = _events(result.stdout)
    assert events[-1]["kind"] == "run_finished"
    assert events[-1]["data"]["status"] == "succeeded"
    assert _outputs(events) == {
        "greet": "hello, world",
        "title": "Hello, World",
        "report": "1: Hello, World\n2: Hello, World",
    }


def test_hello_example_prints_a_summary_for_people(run_cli, hello: Path) -> None:
    result = run_cli("run", hello)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded" in result.stdout
    assert "Traceback" not in result.stderr


def test_hello_example_takes_params_from_the_command_line(run_cli, hello: Path) -> None:
    result = run_cli("run", "--json", hello, "--param", "who=Ada Lovelace", "--param", "rounds=3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _outputs(_events(result.stdout))["report"].splitlines()[-1] == "3: Hello, Ada Lovelace"


def test_hello_example_skips_the_report_when_rounds_is_zero(run_cli, hello: Path) -> None:
    result = run_cli("run", "--json", hello, "--param", "rounds=0")
    assert result.returncode == 0, result.stdout + result.stderr
    events = _events(result.stdout)
    assert "report" not in _outputs(events)
    assert any(e["kind"] == "task_skipped" and e["task"] == "report" for e in events)


def test_hello_example_rejects_a_param_of_the_wrong_type_without_running(run_cli, hello: Path) -> None:
    result = run_cli("run", hello, "--param", "rounds=many")
    assert result.returncode != 0
    assert "rounds" in result.stderr
    assert "Traceback" not in result.stderr
