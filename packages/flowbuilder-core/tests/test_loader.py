"""Loading reports every problem of a file at once, without follow-on noise.

When the schema check fails, the parts that validated are still compiled, so schema
problems and compile problems (unknown types, dependencies, cycles, expressions) come in
one report, in line order. What only follows from an invalid part (a dependency on a task
that failed validation, a reference to a param whose declaration is invalid) is not
reported.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flowbuilder.errors import WorkflowError
from flowbuilder.loader import load_plan, load_workflow, plan_workflow
from flowbuilder.plugins import PluginHost


def problems(text: str, host: PluginHost) -> list[str]:
    """``LINE:COL: message`` of every problem ``load_plan`` reports for ``text``."""
    with pytest.raises(WorkflowError) as raised:
        load_plan(textwrap.dedent(text).lstrip().encode(), host)
    return [f"{d.line}:{d.column}: {d.message}" for d in raised.value.diagnostics]


def test_a_schema_error_and_an_unknown_dependency_are_reported_together(host: PluginHost) -> None:
    found = problems(
        """
        name: both
        tasks:
          - {name: a, type: shell, timeout: soon, config: {command: x}}
          - {name: b, type: shell, depends_on: [c], config: {command: x}}
        """,
        host,
    )
    assert found == [
        "3:37: timeout: 'soon' is not a duration; write seconds (30) or '500ms', '30s', '5m', '1h', '1d'",
        "4:41: task 'b' depends on unknown task 'c'",
    ]


def test_compile_problems_after_an_invalid_task_keep_their_own_lines(host: PluginHost) -> None:
    found = problems(
        """
        name: lines
        tasks:
          - {name: a, type: shell, priority: high, config: {command: x}}
          - {name: b, type: shel}
          - {name: c, type: shell, config: {command: x, bogus: 1}}
        """,
        host,
    )
    assert [f.split(": ")[0] for f in found] == ["3:38", "4:21", "5:49"]
    assert "unknown task type 'shel'" in found[1]
    assert "shell config: unknown field 'bogus'" in found[2]


def test_a_dependency_on_a_task_that_failed_validation_is_not_unknown(host: PluginHost) -> None:
    found = problems(
        """
        name: follow-on
        tasks:
          - {name: a, type: shell, retry: {attempts: 0}, config: {command: x}}
          - {name: b, type: shell, depends_on: [a], config: {command: "${{ tasks.a.output }}"}}
        """,
        host,
    )
    assert found == ["3:46: retry.attempts: input should be greater than or equal to 1 (got 0)"]


def test_reading_a_task_upstream_through_an_invalid_task_is_not_reported(host: PluginHost) -> None:
    # c -> b -> a, but b is invalid: c's upstream is unknown, so "c does not depend on a"
    # would be a guess. A real unknown name next to it is still reported.
    found = problems(
        """
        name: upstream
        tasks:
          - {name: a, type: shell, config: {command: x}}
          - {name: b, type: shell, depends_on: [a], priority: x, config: {command: x}}
          - {name: c, type: shell, depends_on: [b], config: {command: "${{ tasks.a.output }} ${{ tasks.zz.output }}"}}
        """,
        host,
    )
    assert len(found) == 2
    assert "priority" in found[0]
    assert found[1].startswith("5:63: unknown task 'zz'")


def test_a_reference_to_an_invalid_param_is_not_also_unknown(host: PluginHost) -> None:
    found = problems(
        """
        name: params
        params:
          good: {type: integer, default: 1}
          bad: {type: integer, default: many}
        tasks:
          - {name: a, type: shell, config: {command: "${{ params.good }} ${{ params.bad }} ${{ params.ugly }}"}}
        """,
        host,
    )
    assert len(found) == 2
    assert found[0].startswith("4:8: params.bad: default 'many' is not an integer")
    assert found[1].startswith("6:46: unknown param 'ugly'")


def test_an_invalid_params_table_silences_param_references(host: PluginHost) -> None:
    found = problems(
        """
        name: params
        params: [a, b]
        tasks:
          - {name: a, type: shell, depends_on: [nope], config: {command: "${{ params.a }}"}}
        """,
        host,
    )
    assert found[0].startswith("2:9: params: input should be a valid dictionary")
    assert found[1:] == ["4:41: task 'a' depends on unknown task 'nope'"]


def test_a_missing_workflow_name_does_not_hide_task_problems(host: PluginHost) -> None:
    found = problems(
        """
        tasks:
          - {name: a, type: shell, depends_on: [a], config: {command: x}}
        """,
        host,
    )
    assert found == ["1:1: workflow is missing the required field 'name'", "2:41: task 'a' depends on itself"]


def test_an_invalid_pools_table_silences_unknown_pool(host: PluginHost) -> None:
    found = problems(
        """
        name: pools
        pools: {db: 0}
        tasks:
          - {name: a, type: shell, pool: db, config: {command: x}}
        """,
        host,
    )
    assert found == ["2:13: pools.db: input should be greater than or equal to 1 (got 0)"]


def test_a_cycle_among_valid_tasks_is_reported_beside_a_schema_error(host: PluginHost) -> None:
    found = problems(
        """
        name: cycle
        tasks:
          - {name: a, type: shell, depends_on: [b], config: {command: x}}
          - {name: b, type: shell, depends_on: [a], config: {command: x}}
          - {name: c, type: shell, on_failure: maybe, config: {command: x}}
        """,
        host,
    )
    assert found[0].startswith("3:41: dependency cycle: a -> b -> a")
    assert found[1].startswith("5:40: on_failure: input should be 'stop' or 'continue'")


def test_every_task_invalid_reports_only_the_schema_problems(host: PluginHost) -> None:
    found = problems(
        """
        name: none-valid
        tasks:
          - {name: a, type: shell, timeout: x}
          - {type: shell, depends_on: [a]}
        """,
        host,
    )
    assert [f.split(": ", 1)[1] for f in found] == [
        "timeout: 'x' is not a duration; write seconds (30) or '500ms', '30s', '5m', '1h', '1d'",
        "task is missing the required field 'name'",
    ]


def test_load_workflow_without_a_host_reports_only_schema_problems() -> None:
    text = "name: x\ntasks:\n  - {name: a, type: nope, timeout: x}\n  - {name: b, type: nope, depends_on: [c]}\n"
    with pytest.raises(WorkflowError) as raised:
        load_workflow(text)
    assert [d.line for d in raised.value.diagnostics] == [3]


def test_problems_name_the_file_they_come_from(host: PluginHost, tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("name: x\ntasks:\n  - {name: a, type: shell, depends_on: [z], config: {command: x}}\n")
    with pytest.raises(WorkflowError) as raised:
        load_plan(path, host)
    assert str(raised.value).startswith(f"{path}:3:41: task 'a' depends on unknown task 'z'")


def test_a_file_over_max_bytes_is_refused_before_it_is_read(host: PluginHost, tmp_path: Path) -> None:
    from dataclasses import replace

    path = tmp_path / "big.yaml"
    path.write_text("name: x\n" + "#" * 200 + "\n")
    host.settings = replace(host.settings, limits=replace(host.settings.limits, max_bytes=100))
    with pytest.raises(WorkflowError, match="over the limit of 100"):
        load_plan(path, host)


def test_a_valid_workflow_loads_from_text_bytes_and_path(host: PluginHost, tmp_path: Path) -> None:
    text = "name: ok\ntasks:\n  - {name: a, type: shell, config: {command: x}}\n"
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    plans = [load_plan(text, host), load_plan(text.encode(), host), load_plan(path, host)]
    assert {plan.names for plan in plans} == {("a",)}
    assert load_workflow(path).content == text.encode()


def test_an_unknown_field_is_told_the_fields_of_its_own_mapping(host: PluginHost) -> None:
    text = """\
name: fields
defaults: {retry: {atempts: 2}}
tasks:
  - {name: a, type: shell, retry: {foreach: 3, zzzz: 1}, foreach: {items: [1], max_paralel: 2}, config: {command: x}}
"""
    with pytest.raises(WorkflowError) as raised:
        load_plan(text.encode(), host)
    retry_fields = "attempts, backoff, multiplier, max_delay, jitter, retry_on"
    assert [(d.line, d.column, d.message, d.hint) for d in raised.value.diagnostics] == [
        (2, 20, "unknown field 'atempts' in defaults.retry", "did you mean 'attempts'?"),
        (4, 36, "unknown field 'foreach' in retry", f"retry takes only: {retry_fields}"),
        (4, 48, "unknown field 'zzzz' in retry", f"remove it; retry takes only: {retry_fields}"),
        (4, 80, "unknown field 'max_paralel' in foreach", "did you mean 'max_parallel'?"),
    ]


VALID_WITH_A_WARNING_FREE_SHELL = """
name: small
tasks:
  - {name: a, type: shell, config: {command: "true"}}
  - {name: b, type: shell, depends_on: [a], config: {command: "true"}}
"""


def test_a_loaded_workflow_keeps_no_document_and_a_valid_file_is_parsed_once(host: PluginHost) -> None:
    """The located document is only made to report a problem: a valid file never needs it."""
    source = load_workflow(VALID_WITH_A_WARNING_FREE_SHELL.encode(), host=host)
    assert source.locator.document is None and source.locator.content == source.content
    plan_workflow(source, host)
    assert source.locator.parsed == []


def test_a_compile_problem_of_a_valid_document_is_located_by_parsing_again_once(host: PluginHost) -> None:
    text = VALID_WITH_A_WARNING_FREE_SHELL + "  - {name: c, type: shell, depends_on: [zz, yy], config: {command: x}}\n"
    source = load_workflow(text.encode(), host=host)
    with pytest.raises(WorkflowError) as raised:
        plan_workflow(source, host)
    shown = [f"{d.line}:{d.column}: {d.message}" for d in raised.value.diagnostics]
    assert shown == ["6:41: task 'c' depends on unknown task 'zz'", "6:45: task 'c' depends on unknown task 'yy'"]
    assert len(source.locator.parsed) == 1  # two positions, one parse
