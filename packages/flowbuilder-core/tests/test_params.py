"""Run parameters: ``--param NAME=VALUE`` parsing and checking against the declared params."""

from __future__ import annotations

import pytest

from flowbuilder.model import Workflow
from flowbuilder.params import ParamError, parse_param_assignments, resolve_params

WORKFLOW = Workflow.model_validate(
    {
        "name": "p",
        "params": {
            "n": {"type": "integer", "default": 3},
            "who": {"default": "world"},
            "flag": {"type": "boolean", "default": False},
            "token": {"type": "string", "required": True},
            "region": {"choices": ["eu", "us"], "default": "eu"},
        },
        "tasks": [{"name": "a", "type": "t"}],
    }
)


def test_assignments_split_at_the_first_equals_sign() -> None:
    assert parse_param_assignments(["n=3", "expr=a=b", "empty="]) == {"n": "3", "expr": "a=b", "empty": ""}


@pytest.mark.parametrize("bad", ["n", "=3", " =3"])
def test_an_assignment_without_a_name_or_equals_is_refused(bad: str) -> None:
    with pytest.raises(ParamError, match="write NAME=VALUE"):
        parse_param_assignments([bad])


def test_defaults_fill_what_is_not_given_and_given_text_is_converted() -> None:
    resolved = resolve_params(WORKFLOW, {"n": "7", "flag": "true", "token": "t"})
    assert resolved == {"n": 7, "who": "world", "flag": True, "token": "t", "region": "eu"}


def test_an_undeclared_param_is_refused_listing_the_declared_ones() -> None:
    with pytest.raises(
        ParamError, match=r"unknown param 'nn' for workflow 'p' \(declared: flag, n, region, token, who\)"
    ):
        resolve_params(WORKFLOW, {"nn": "1", "token": "t"})


def test_a_required_param_must_be_given() -> None:
    with pytest.raises(ParamError, match="param 'token' of workflow 'p' is required; pass --param token=VALUE"):
        resolve_params(WORKFLOW, {})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("n", "three", "is not an integer"), ("flag", "maybe", "is not a boolean"), ("region", "asia", "is not one of")],
)
def test_a_value_of_the_wrong_type_or_choice_is_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        resolve_params(WORKFLOW, {name: value, "token": "t"})


def test_param_errors_exit_with_2_like_invalid_workflows() -> None:
    assert ParamError.exit_status == 2


def test_a_workflow_without_params_takes_none() -> None:
    bare = Workflow.model_validate({"name": "b", "tasks": [{"name": "a", "type": "t"}]})
    assert resolve_params(bare, {}) == {}
    with pytest.raises(ParamError, match=r"\(declared: none\)"):
        resolve_params(bare, {"x": "1"})


def test_a_number_param_takes_an_int_past_a_floats_range_and_refuses_infinity() -> None:
    """``math.isfinite(10**400)`` raises OverflowError: an int is finite, only floats are checked."""
    sized = Workflow.model_validate(
        {"name": "s", "params": {"x": {"type": "number"}}, "tasks": [{"name": "a", "type": "t"}]}
    )
    assert resolve_params(sized, {"x": 10**400}) == {"x": 10**400}
    with pytest.raises(ParamError, match="is not a finite number"):
        resolve_params(sized, {"x": float("inf")})


COLLECTIONS = Workflow.model_validate(
    {
        "name": "c",
        "params": {
            "regions": {"type": "array", "default": ["eu"]},
            "labels": {"type": "object", "default": {}},
            "keys": {"type": "array", "secret": True, "required": False},
        },
        "tasks": [{"name": "a", "type": "t"}],
    }
)


def test_array_and_object_params_are_read_as_json_from_the_command_line() -> None:
    """They had no way in from --param: '["eu"]' "is not of type array"."""
    given = parse_param_assignments(['regions=["eu", "us"]', 'labels={"team": "data", "n": 2}', "keys=[]"])
    resolved = resolve_params(COLLECTIONS, given)
    assert resolved == {"regions": ["eu", "us"], "labels": {"team": "data", "n": 2}, "keys": []}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("regions", "eu,us", r"'eu,us' is not a JSON array; write it as JSON, e\.g\. '\[\"a\", \"b\"\]'"),
        ("regions", '{"eu": 1}', "is not of type array"),
        ("labels", "[1]", "is not of type object"),
        ("regions", "[NaN]", "is not a JSON array"),  # JSON's constants are no values a task can store
        ("regions", "[" * 100_000, r"… \(100,000 characters\) is not a JSON array"),  # cut, one line
        ("keys", '["hunter2", ', r"^param 'keys': \(secret value\) is not a JSON array"),
    ],
)
def test_array_and_object_text_that_is_not_their_json_is_refused_in_one_line(name: str, value: str,
                                                                              message: str) -> None:  # fmt: skip
    with pytest.raises(ParamError, match=message) as refused:
        resolve_params(COLLECTIONS, {name: value})
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 320 and "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    "given", [{"who": "a\ud800b"}, {"who": ["\udfff"]}, {"\ud83d": "x"}, {"token": {"k\udc00": 1}}]
)
def test_text_that_is_not_valid_unicode_is_refused_naming_the_param(given: dict[str, object]) -> None:
    """A lone surrogate (JSON can spell one) could be stored nowhere: refused before the run."""
    with pytest.raises(ParamError, match="not valid Unicode") as raised:
        resolve_params(WORKFLOW, {"token": "t", **given})
    str(raised.value).encode("utf-8")  # the message itself can be printed and sent
