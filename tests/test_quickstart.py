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


def test_hello_example_is_valid(flowbuilder, hello: Path) -> None:
    result = flowbuilder("validate", hello)
    assert result.returncode == 0, result.stderr
    assert "ok (3 tasks, 3 levels)" in result.stdout


def test_hello_example_plans_as_a_chain_of_three(flowbuilder, hello: Path) -> None:
    result = flowbuilder("plan", "--json", hello)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["critical_path"] == ["greet", "title", "report"]
    assert summary["max_width"] == 1


def test_hello_example_runs_offline_to_success(flowbuilder, hello: Path) -> None:
    result = flowbuilder("run", hello)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded" in result.stdout
    assert "Traceback" not in result.stderr


def test_hello_example_takes_params_from_the_command_line(flowbuilder, hello: Path) -> None:
    result = flowbuilder("run", hello, "--param", "who=Ada Lovelace", "--param", "rounds=0")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hello_example_rejects_a_param_of_the_wrong_type_without_running(flowbuilder, hello: Path) -> None:
    result = flowbuilder("run", hello, "--param", "rounds=many")
    assert result.returncode != 0
    assert "rounds" in result.stderr
    assert "Traceback" not in result.stderr
