"""Expressions past their bounds fail their own task, at once, and the run goes on (#7.9, #8.10).

``params.n ** 100000000`` used to hold the scheduler thread for minutes, so no other task,
timeout or cancel could proceed. Here the values come from params (so `validate` cannot
refuse them): each such task fails with the bound it would pass, the others run.
"""

from __future__ import annotations

import json
from pathlib import Path

WORKFLOW = """\
name: bounded
on_failure: continue
params:
  n: {type: integer, default: 3}
  big: {type: integer, default: 100000000}
tasks:
  - name: power
    type: shell
    config: {command: "echo ${{ (params.n ** params.big) | string | length }}"}
  - name: repeat
    type: shell
    config: {command: "echo ${{ 'a' * params.big }}"}
  - name: padded
    type: shell
    when: "${{ ('x' | center(params.big)) | length > 3 }}"
    config: {command: echo never}
  - name: fine
    type: shell
    config: {command: "echo ${{ params.n * 2 }}"}
  - name: after
    type: shell
    depends_on: [fine]
    config: {command: "echo got ${{ tasks.fine.output }}"}
"""


def test_tasks_whose_expressions_pass_a_bound_fail_and_the_others_run(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (scratch_dir / "wf.yaml").write_text(WORKFLOW)
    assert run_cli("validate", "wf.yaml").returncode == 0
    done = run_cli("run", "wf.yaml", "--json", "--store", "memory://", timeout=60)
    assert done.returncode == 1, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    failed = {event["task"]: event["data"]["error"] for event in events if event["kind"] == "task_failed"}
    succeeded = {event["task"]: event["data"].get("output") for event in events if event["kind"] == "task_succeeded"}
    assert set(failed) == {"power", "repeat", "padded"}
    assert "would make a number of about" in failed["power"]
    assert "would make a text of 100,000,000 characters" in failed["repeat"]
    assert "would make a text of 100,000,000 characters" in failed["padded"]
    assert succeeded == {"fine": "6", "after": "got 6"}
