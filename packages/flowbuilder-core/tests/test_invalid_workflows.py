"""Every file under ``invalid/`` is rejected with exactly the located messages it expects.

Each file holds one concern (``# concern: ...``) and, in its header, one ``# expect:
LINE:COL: text`` line per problem the CLI must report, in the order it must report them.
The check: ``flowbuilder validate FILE`` exits with 2, prints exactly those problems as
``FILE:LINE:COL: message``, in line order (``text`` is a part of the message), and never a
traceback. ``invalid/limits.toml`` lowers the limits so that the size, depth and alias
cases stay small files.

Every file goes through the real entry point in-process (fast); all of them together also
go through one ``flowbuilder validate`` subprocess, and a sample one subprocess each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

INVALID_DIR = Path(__file__).resolve().parent / "invalid"
LIMITS = INVALID_DIR / "limits.toml"
CASES = sorted(INVALID_DIR.glob("*.yaml"))
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$")


@dataclass(frozen=True)
class Expectation:
    line: int
    column: int
    text: str


def expectations(path: Path) -> list[Expectation]:
    found = []
    for raw in path.read_bytes().decode("utf-8", "replace").splitlines():
        if raw.startswith("# expect: "):
            position, _, text = raw[len("# expect: ") :].partition(": ")
            line, column = position.split(":")
            found.append(Expectation(int(line), int(column), text))
    return found


def located_lines(output: str) -> dict[str, list[tuple[int, int, str]]]:
    """Every ``FILE:LINE:COL: message`` line of the output, grouped by file name."""
    by_file: dict[str, list[tuple[int, int, str]]] = {}
    for line in output.splitlines():
        match = LOCATED.match(line)
        if match:
            by_file.setdefault(Path(match["file"]).name, []).append(
                (int(match["line"]), int(match["column"]), match["message"])
            )
    return by_file


def assert_reports(path: Path, reported: list[tuple[int, int, str]]) -> None:
    expected = expectations(path)
    shown = "\n".join(f"  {line}:{column}: {message}" for line, column, message in reported)
    assert len(reported) == len(expected), f"{path.name}: expected {len(expected)} problems, got:\n{shown}"
    for want, (line, column, message) in zip(expected, reported, strict=True):
        assert (line, column) == (want.line, want.column), f"{path.name}: wanted {want}, got:\n{shown}"
        assert want.text in message, f"{path.name}: wanted {want.text!r} at {line}:{column}, got:\n{shown}"
    assert [(line, column) for line, column, _ in reported] == sorted((line, column) for line, column, _ in reported)


def test_the_corpus_is_large_and_every_file_states_its_concern_and_expectations() -> None:
    assert len(CASES) >= 40
    for path in CASES:
        header = path.read_bytes().decode("utf-8", "replace")
        assert header.startswith("# concern: "), path.name
        assert expectations(path), path.name


def test_several_files_report_several_problems() -> None:
    assert sum(len(expectations(path)) > 1 for path in CASES) >= 5


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_invalid_file_is_rejected_with_its_located_messages(path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(path), env={"FLOWBUILDER_CONFIG": str(LIMITS)})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    assert result.stdout == ""  # problems go to stderr; nothing claims the file is ok
    assert_reports(path, located_lines(result.stderr).get(path.name, []))
    assert set(located_lines(result.stderr)) == {path.name}


def test_the_real_executable_reports_every_invalid_file_in_one_run(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("validate", *(str(path) for path in CASES), env={"FLOWBUILDER_CONFIG": str(LIMITS)})
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stdout == ""
    reported = located_lines(result.stderr)
    assert set(reported) == {path.name for path in CASES}
    for path in CASES:
        assert_reports(path, reported[path.name])
    # Nothing else was printed: every line of stderr is a located problem.
    assert all(LOCATED.match(line) for line in result.stderr.splitlines())


SAMPLE = [
    "yaml_tab_indentation",
    "yaml_alias_bomb",
    "compile_cycle_of_three",
    "multi_across_layers",
    "yaml_invalid_utf8",
]


@pytest.mark.parametrize("stem", SAMPLE)
def test_the_real_executable_rejects_a_sample_one_file_at_a_time(stem: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    path = INVALID_DIR / f"{stem}.yaml"
    result = run_cli("validate", str(path), env={"FLOWBUILDER_CONFIG": str(LIMITS)})
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert_reports(path, located_lines(result.stderr)[path.name])


def test_a_python_tag_constructs_nothing_even_through_the_cli(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(INVALID_DIR / "yaml_python_object_tag.yaml"))
    assert result.exit_code == 2
    assert "CONSTRUCTED" not in result.stdout  # builtins.print was never called
    assert "is not allowed" in result.stderr


def test_valid_and_invalid_files_together_exit_2_and_report_only_the_invalid(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.yaml"
    good.write_text("name: good\ntasks:\n  - {name: a, type: shell, config: {command: echo}}\n")
    bad = INVALID_DIR / "compile_self_dependency.yaml"
    result = cli("validate", str(good), str(bad))
    assert result.exit_code == 2
    assert "good.yaml: ok (1 tasks, 1 levels)" in result.stdout
    assert set(located_lines(result.stderr)) == {bad.name}
