"""Expression-fed variables in bash arithmetic: validate warns, typed params are the cure (#8.7).

Bash evaluates a variable's contents as code in arithmetic contexts, so ``a[$(cmd)]`` runs
``cmd`` even through the shell type's quoted ``"$FLOWBUILDER_VALUE_1"``. The tests run real
bash and the real CLI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flowrunner_helpers import plan_of, run_text

from flowbuilder.params import ParamError

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))
PAYLOAD = "a[$(touch {canary})]"
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    return subprocess.run([FLOWBUILDER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def _shell(command: str, n_type: str = "string", extra: str = "", shell: str = "/bin/bash") -> str:
    return f"""
name: arithmetic
params:
  n: {{type: {n_type}}}
tasks:
  - name: add
    type: shell{extra}
    config:
      shell: {shell}
      command: '{command}'
"""


def _warnings(text: str) -> list[str]:
    return [warning.message for warning in plan_of(text).warnings]


def test_validate_warns_at_the_command_for_an_inline_expression_and_an_env_variable(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(
        _shell("echo $(( ${{ params.n }} + 1 ))")
        + """  - name: via_env
    type: shell
    env: {N: "${{ params.n }}"}
    config: {shell: /bin/bash, command: "echo $((N + 1))"}
"""
    )
    completed = _cli(tmp_path, "validate", "wf.yaml")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.splitlines()
    assert lines[0].startswith(
        "wf.yaml:10:16: warning: `${{ params.n }}` reaches $(( )) in `$(( ${{ params.n }} + 1 ))`"
    )
    assert lines[1].startswith("wf.yaml:14:41: warning: `$N` (env N: '${{ params.n }}') reaches $(( ))")
    assert all("type: integer" in line for line in lines) and len(lines) == 2
    strict = _cli(tmp_path, "validate", "--strict", "wf.yaml")
    assert strict.returncode == 2 and strict.stderr.count("warning:") == 2 and "Traceback" not in strict.stderr


@pytest.mark.parametrize(
    ("command", "context"),
    [
        ("echo $((N + 1))", "$(( ))"),
        ('echo $(( "$N" * 2 ))', "$(( ))"),
        ("echo $[N + 1]", "$[ ]"),
        ("(( N > 1 )) && echo big", "(( ))"),
        ("for ((i = 0; i < N; i++)); do :; done", "(( ))"),
        ("let x=N+1", "let"),
        ('declare -i x="$N"', "declare"),
        ('echo "${arr[$N]}"', "an array subscript"),
        ("arr[$N]=1", "an array subscript"),
        ('[[ "$N" -gt 3 ]] && echo big', "[[ ]] with an arithmetic test"),
        ("[[ -v $N ]]", "[[ ]] with an arithmetic test"),
        ("echo ${!N}", "${!VAR} indirection"),
    ],
)
def test_each_arithmetic_context_is_flagged(command: str, context: str) -> None:
    (warning,) = _warnings(_shell(command, extra='\n    env: {N: "${{ params.n }}"}'))
    assert f"reaches {context} in" in warning


@pytest.mark.parametrize(
    "command",
    [
        'echo "$N"',
        'echo "$(( ${#N} + 1 ))"',
        '[[ "$N" == a* ]] && echo match',
        '[[ "$N" =~ ^[0-9]+$ ]] || exit 2',
        '[ "$N" -eq 1 ] && echo one',
        'printf "%d" "$N"',
        "echo $((M + 1))",
    ],
)
def test_uses_bash_does_not_evaluate_are_not_flagged(command: str) -> None:
    assert _warnings(_shell(command, extra='\n    env: {N: "${{ params.n }}", M: "3"}')) == []


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ("n: {type: integer}", "params.n"),
        ("n: {type: number}", "params.n * 2"),
        ("n: {type: boolean}", "params.n"),
        ("n: {type: string, choices: ['1', '2']}", "params.n"),
    ],
)
def test_values_that_cannot_carry_code_are_not_flagged(params: str, expression: str) -> None:
    text = f"""
name: typed
params: {{{params}}}
tasks:
  - {{name: add, type: shell, config: {{shell: bash, command: "echo $(( ${{{{ {expression} }}}} + 1 ))"}}}}
"""
    assert _warnings(text) == []


def test_task_outputs_and_workflow_env_count_as_expression_fed() -> None:
    text = """
name: fed
params: {limit: {type: string}}
env: {LIMIT: "${{ params.limit }}"}
tasks:
  - {name: source, type: shell, config: {command: "echo 3"}}
  - name: use
    type: shell
    depends_on: [source]
    env: {COUNT: "${{ tasks.source.output }}"}
    config: {shell: /bin/bash, command: "echo $((COUNT + LIMIT))"}
"""
    first, second = _warnings(text)
    assert first.startswith("`$COUNT` (env COUNT: '${{ tasks.source.output }}') reaches $(( ))")
    assert second.startswith("`$LIMIT` (env LIMIT: '${{ params.limit }}') reaches $(( ))")


def test_a_bash_script_reading_an_env_entry_in_arithmetic_is_flagged() -> None:
    text = """
name: script
params: {n: {type: string}}
tasks:
  - name: add
    type: script
    env: {N: "${{ params.n }}"}
    config:
      language: bash
      code: |
        echo $((N + 1))
"""
    (warning,) = _warnings(text)
    assert "reaches $(( ))" in warning


def test_a_shell_that_does_not_evaluate_variables_is_not_linted() -> None:
    assert _warnings(_shell("echo $(( ${{ params.n }} + 1 ))", shell="/usr/bin/env")) == []


@needs_bash
def test_the_hazard_is_real_for_a_string_param(tmp_path: Path) -> None:
    """What the warning is about: bash runs the payload through the quoted variable."""
    canary = tmp_path / "CANARY"
    result = run_text(_shell("echo $(( ${{ params.n }} + 1 ))"), {"n": PAYLOAD.format(canary=canary)})
    assert result.succeeded and canary.exists()


@needs_bash
def test_an_integer_param_cannot_carry_the_payload(tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    text = _shell("echo $(( ${{ params.n }} + 1 ))", n_type="integer")
    with pytest.raises(ParamError, match="is not an integer"):
        run_text(text, {"n": PAYLOAD.format(canary=canary)})
    (tmp_path / "wf.yaml").write_text(text)
    completed = _cli(tmp_path, "run", "--store", "memory://", "wf.yaml", "-p", f"n={PAYLOAD.format(canary=canary)}")
    assert completed.returncode == 2 and "is not an integer" in completed.stderr
    assert "Traceback" not in completed.stderr and len(completed.stderr.strip().splitlines()) == 1
    assert not canary.exists()
    assert run_text(text, {"n": "41"}).output("add") == "42"


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", float("nan")])
def test_a_number_param_is_a_finite_number(value: object) -> None:
    text = _shell("echo $(( ${{ params.n }} ))", n_type="number")
    with pytest.raises(ParamError, match="is not a finite number"):
        run_text(text, {"n": value})


def test_run_prints_the_warnings_before_starting_and_still_runs(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_shell("echo $(( ${{ params.n }} + 1 ))"))
    completed = _cli(tmp_path, "run", "--store", "memory://", "wf.yaml", "-p", "n=2")
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.startswith("wf.yaml:10:16: warning: `${{ params.n }}` reaches $(( ))")
