"""The ``workflow`` task's attempts under the local runner: retries, timeouts, the runner-only rule."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowbuilder.events import TaskStatus
from flowbuilder.interfaces import TaskContext, TaskFailure
from flowbuilder.subworkflows import SubworkflowConfig
from flowrunner import Engine
from flowrunner.tasktypes import WorkflowTask

FLAKY_CHILD = """\
name: flaky
tasks:
  - name: once
    type: shell
    config: {command: "if [ -e tried ]; then echo fine; else touch tried; exit 4; fi"}
"""
SLOW_CHILD = """\
name: slow
tasks:
  - {name: nap, type: shell, config: {command: "sleep 30"}}
"""


def _parent(child: str, extra: str = "") -> str:
    return f"name: parent\ntasks:\n  - name: sub\n    type: workflow\n    config: {{path: {child}}}\n{extra}"


def _run(tmp_path: Path, parent: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, Engine]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "parent.yaml").write_text(parent)
    engine = Engine(store="memory://")
    return asyncio.run(engine.run(tmp_path / "parent.yaml")), engine


def test_each_retry_of_a_failed_child_starts_a_new_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "child.yaml").write_text(FLAKY_CHILD)
    result, engine = _run(tmp_path, _parent("child.yaml", "    retry: {attempts: 2, backoff: 0.01}\n"), monkeypatch)
    try:
        assert result.succeeded  # type: ignore[attr-defined]
        children = [run for run in engine.store.list_runs(workflow="flaky").runs]
        assert sorted(run.status.value for run in children) == ["failed", "succeeded"]
        output = result.output("sub")  # type: ignore[attr-defined]
        assert output == {"run_id": output["run_id"], "outputs": {"once": "fine"}}
        assert engine.store.get_run(output["run_id"]).status.value == "succeeded"
    finally:
        engine.close()


def test_a_timed_out_workflow_task_cancels_its_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "child.yaml").write_text(SLOW_CHILD)
    result, engine = _run(tmp_path, _parent("child.yaml", "    timeout: 0.5\n"), monkeypatch)
    try:
        assert result.tasks["sub"].status is TaskStatus.FAILED  # type: ignore[attr-defined]
        assert "timed out" in (result.tasks["sub"].error or "")  # type: ignore[attr-defined]
        [child] = engine.store.list_runs(workflow="slow").runs
        assert child.status.value == "cancelled"
        assert engine.store.load_state(child.run_id).tasks["nap"].status is TaskStatus.CANCELLED
    finally:
        engine.close()


def test_a_runner_that_does_not_start_child_runs_fails_the_task_saying_so() -> None:
    config = SubworkflowConfig(path="child.yaml")
    with pytest.raises(TaskFailure, match="does not start child runs") as raised:
        WorkflowTask().run(config, TaskContext("r", "sub"))
    assert raised.value.retryable is False
