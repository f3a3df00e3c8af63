"""The workflow-level ``env``: rendered once per run, seen by every task (issue #7 item A)."""

from __future__ import annotations

import pytest
from flowrunner_helpers import run_text

from flowbuilder.expressions import ExpressionError

WORKFLOW = """
name: env
params:
  who: {type: string, default: world}
env:
  WHO: "hello ${{ params.who }}"
tasks:
  - {name: plain_shell, type: shell, config: {command: 'echo "$WHO"'}}
  - name: plain_script
    type: script
    config:
      language: python
      code: |
        import os
        print(os.environ["WHO"])
  - {name: own_expression, type: shell, config: {command: 'echo ${{ params.who }}: "$WHO"'}}
"""


def test_a_plain_shell_task_sees_the_workflow_env_rendered() -> None:
    result = run_text(WORKFLOW, params={"who": "alice"})
    assert result.output("plain_shell") == "hello alice"


def test_a_plain_script_task_sees_the_workflow_env_rendered() -> None:
    result = run_text(WORKFLOW, params={"who": "alice"})
    assert result.output("plain_script") == "hello alice"


def test_a_task_with_its_own_expressions_sees_the_same_values() -> None:
    result = run_text(WORKFLOW, params={"who": "alice"})
    assert result.output("own_expression") == "alice: hello alice"


def test_the_task_env_wins_over_the_workflow_env_and_may_use_expressions() -> None:
    result = run_text(
        """
name: env
params:
  who: {type: string, default: world}
env: {WHO: "${{ params.who }}", SHARED: workflow}
tasks:
  - name: a
    type: shell
    env: {SHARED: "task of ${{ params.who }}"}
    config: {command: "echo $WHO / $SHARED"}
""",
        params={"who": "bob"},
    )
    assert result.output("a") == "bob / task of bob"


def test_a_param_value_that_looks_like_an_expression_is_not_evaluated_again() -> None:
    result = run_text(WORKFLOW, params={"who": "${{ 6 * 7 }}"})
    assert result.output("plain_shell") == "hello ${{ 6 * 7 }}"
    assert result.output("own_expression") == "${{ 6 * 7 }}: hello ${{ 6 * 7 }}"


def test_a_workflow_env_expression_that_fails_stops_the_run_naming_the_variable() -> None:
    with pytest.raises(ExpressionError, match="workflow env WHO"):
        run_text("""
name: env
params:
  n: {type: integer, default: 1}
env: {WHO: "${{ params.n + 'x' }}"}
tasks:
  - {name: a, type: shell, config: {command: 'echo "$WHO"'}}
""")
