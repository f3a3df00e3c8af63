"""The workflow model: durations, names, YAML scalar quirks, retry policies and params."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flowbuilder.loader import load_workflow
from flowbuilder.model import Foreach, Param, RetryPolicy, Task, Workflow, parse_duration, workflow_json_schema


def task(**fields: object) -> Task:
    return Task.model_validate({"name": "a", "type": "shell", **fields})


# -- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [(30, 30.0), (2.5, 2.5), ("45", 45.0), ("500ms", 0.5), ("30s", 30.0), ("5m", 300.0),
     ("1.5h", 5400.0), ("1d", 86400.0), (" 10 s ", 10.0)],
)  # fmt: skip
def test_durations_are_seconds_or_text_with_a_unit(written: object, seconds: float) -> None:
    assert parse_duration(written) == seconds
    assert task(timeout=written).timeout == seconds


@pytest.mark.parametrize("written", ["10 minutes", "5x", "-3s", "1h30m", "", "ms"])
def test_text_that_is_not_a_duration_is_refused_with_the_accepted_forms(written: str) -> None:
    with pytest.raises(ValidationError, match="is not a duration; write seconds"):
        task(timeout=written)


@pytest.mark.parametrize("written", [0, "0s", -1])
def test_durations_must_be_positive(written: object) -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        task(timeout=written)


def test_a_boolean_is_not_a_duration() -> None:
    with pytest.raises(ValidationError, match="a duration is a number of seconds"):
        task(timeout=True)


def test_retry_delays_are_durations_too() -> None:
    policy = RetryPolicy.model_validate({"attempts": 3, "backoff": "250ms", "max_delay": "2m"})
    assert (policy.backoff, policy.max_delay) == (0.25, 120.0)


# -- retry_on --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition", ["error", "timeout", "exit:1", "exit:-9", "status:503", "status:5xx", "status:4xx"]
)
def test_known_retry_conditions_are_accepted(condition: str) -> None:
    assert RetryPolicy.model_validate({"retry_on": [condition]}).retry_on == [condition]


@pytest.mark.parametrize("condition", ["sometimes", "exit:", "status:50", "status:6xx", "Timeout", "exit:1.5"])
def test_unknown_retry_conditions_are_refused_listing_the_known_ones(condition: str) -> None:
    with pytest.raises(ValidationError, match="use 'error', 'timeout', 'exit:N', 'status:N' or 'status:5xx'"):
        RetryPolicy.model_validate({"retry_on": [condition]})


def test_retry_conditions_may_be_written_unquoted_in_yaml() -> None:
    source = load_workflow("name: w\ntasks:\n  - {name: a, type: t, retry: {retry_on: [exit:3, status:5xx]}}\n")
    retry = source.workflow.tasks[0].retry
    assert retry is not None and retry.retry_on == ["exit:3", "status:5xx"]


# -- names and YAML 1.1 surprises -------------------------------------------------------------


@pytest.mark.parametrize("name", ["no", "on", "yes", "off", "y", "n", "null_ish", "_private", "a-b", "x" * 128])
def test_names_that_yaml_1_1_would_mangle_stay_strings(name: str) -> None:
    source = load_workflow(f"name: w\ntasks:\n  - name: {name}\n    type: t\n")
    assert source.workflow.tasks[0].name == name


@pytest.mark.parametrize("name", ["1000genome", "9lives", "3d-render", "007", "1e3", "0x1f", "123"])
def test_names_may_start_with_a_digit_and_keep_the_text_they_were_written_as(name: str) -> None:
    source = load_workflow(
        f"name: {name}\ntasks:\n  - name: {name}\n    type: t\n  - {{name: b, type: t, depends_on: {name}}}\n"
    )
    assert source.workflow.name == name
    assert source.workflow.tasks[0].name == name
    assert source.workflow.tasks[1].depends_on == [name]


@pytest.mark.parametrize("name", ["fetch data", "-lead", "a.b", "x" * 129, "ünïcode"])
def test_names_outside_the_pattern_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        task(name=name)


@pytest.mark.parametrize(
    ("written", "version"), [("1.10", "1.10"), ("1.0", "1.0"), ("2", "2"), ("007", "007"), ("'1.10'", "1.10")]
)
def test_a_version_keeps_the_text_it_was_written_as(written: str, version: str) -> None:
    source = load_workflow(f"name: w\nversion: {written}\ntasks: [{{name: a, type: t}}]\n")
    assert source.workflow.version == version


@pytest.mark.parametrize("written", ["true", "false", "True"])
def test_a_boolean_where_text_is_meant_is_refused_with_a_quoting_hint(written: str) -> None:
    with pytest.raises(ValidationError, match=f'write "{written.lower()}" in quotes if you mean the text'):
        load_workflow_model(f"name: {written}\ntasks: [{{name: a, type: t}}]\n")


def load_workflow_model(text: str) -> Workflow:
    from flowbuilder.yamlsource import parse_yaml

    return Workflow.model_validate(parse_yaml(text, "f"))


def test_depends_on_accepts_one_name_or_a_list() -> None:
    assert task(depends_on="b").depends_on == ["b"]
    assert task(depends_on=["b", "c"]).depends_on == ["b", "c"]


def test_unknown_fields_are_errors_not_silently_ignored() -> None:
    with pytest.raises(ValidationError, match="extra"):
        task(retires=3)


def test_foreach_short_and_long_forms_mean_the_same() -> None:
    assert task(foreach=[1, 2]).fanout == Foreach(items=[1, 2])
    assert task(foreach="${{ params.xs }}").fanout == Foreach(items="${{ params.xs }}")
    assert task(foreach={"items": [1], "max_parallel": 2}).fanout == Foreach(items=[1], max_parallel=2)
    assert task().fanout is None


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        task().name = "b"  # type: ignore[misc]


def test_a_workflow_finds_its_tasks_by_name() -> None:
    workflow = Workflow.model_validate({"name": "w", "tasks": [{"name": "a", "type": "t"}]})
    assert workflow.task("a").type == "t"
    with pytest.raises(KeyError):
        workflow.task("b")


# -- params ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [("string", 5, "5"), ("string", "x", "x"), ("integer", "42", 42), ("integer", 7, 7),
     ("number", "2.5", 2.5), ("number", 3, 3), ("boolean", "TRUE", True), ("boolean", False, False),
     ("array", [1], [1]), ("object", {"a": 1}, {"a": 1})],
)  # fmt: skip
def test_param_check_converts_to_the_declared_type(kind: str, given: object, expected: object) -> None:
    assert Param(type=kind).check(given) == expected


@pytest.mark.parametrize(
    ("kind", "given"),
    [("integer", "4.5"), ("integer", True), ("integer", 2.0), ("number", "x"), ("boolean", "yes"),
     ("boolean", 1), ("array", "a,b"), ("object", [1]), ("string", [1])],
)  # fmt: skip
def test_param_check_refuses_values_of_another_type(kind: str, given: object) -> None:
    with pytest.raises(ValueError, match="is not"):
        Param(type=kind).check(given)


def test_param_choices_limit_the_values() -> None:
    param = Param(type="string", choices=["eu", "us"])
    assert param.check("eu") == "eu"
    with pytest.raises(ValueError, match="is not one of"):
        param.check("asia")


def test_a_param_default_must_fit_its_type() -> None:
    with pytest.raises(ValidationError, match="default 'many' is not an integer"):
        Param(type="integer", default="many")


def test_a_param_without_default_is_required() -> None:
    assert Param().is_required and not Param(default="x").is_required and Param(default="x", required=True).is_required


# -- JSON Schema -------------------------------------------------------------------------------


def test_the_json_schema_names_the_draft_and_forbids_unknown_fields() -> None:
    schema = workflow_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "tasks"}
