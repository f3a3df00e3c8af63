"""``${{ }}`` expressions: what they reference, how they render, and what the sandbox refuses."""

from __future__ import annotations

from typing import Callable

import pytest

from flowbuilder import expressions
from flowbuilder.expressions import (
    ExpressionError,
    Reference,
    evaluate,
    has_expression,
    is_truthy,
    iter_expressions,
    parse_references,
    render,
    whole_expression,
)

SCOPE = {
    "params": {"n": 3, "who": "world", "xs": [1, 2], "flag": False},
    "env": {"HOME": "/home/me"},
    "tasks": {"fetch": {"output": {"count": 7, "rows": [{"id": 1}]}, "status": "succeeded", "outputs": {"k": "v"}}},
    "item": {"name": "a"},
}


# -- references ------------------------------------------------------------------------------


def test_references_name_root_key_and_field_once_per_chain() -> None:
    assert parse_references("tasks.fetch.output.count > params.n") == [
        Reference("tasks"),
        Reference("params"),
        Reference("tasks", "fetch", "output"),
        Reference("params", "n"),
    ]


def test_subscripts_with_constant_keys_are_references_too() -> None:
    assert Reference("tasks", "a-b", "output") in parse_references("tasks['a-b'].output")


def test_a_computed_key_keeps_only_what_is_known() -> None:
    found = parse_references("tasks[params.which].output")
    assert Reference("params", "which") in found
    assert not any(ref.root == "tasks" and ref.key is not None for ref in found)


def test_bare_names_are_references_without_a_key() -> None:
    assert parse_references("item") == [Reference("item")]


def test_a_repeated_reference_is_listed_once() -> None:
    assert parse_references("params.n + params.n") == [Reference("params"), Reference("params", "n")]


DOTTED_CHAINS = [
    "params.region", "tasks.fetch.output", "tasks.fetch.outputs.count", "tasks.a.b.c.d.e.f.g",
    "env.HOME", "item", "output", "x", "_private.key", "tasks.a_b.status", "tasks.not.output",
    "tasks.a.and", "params.if", "secrets.API_TOKEN", "tasks.fetch.output.rows",
]  # fmt: skip
NOT_DOTTED_CHAINS = [
    "true", "None.x", "not.x", "tasks.1000genome", "tasks.a-b.output", "tasks . a", "a.b.c.d.e.f.g.h.i",
    "tasks['a'].output", "params.n + 1", "params.é", "params.x.", "",
]  # fmt: skip


@pytest.mark.parametrize("expression", DOTTED_CHAINS)
def test_a_plain_attribute_chain_skips_jinja_and_gives_what_jinja_gives(
    expression: str, full_parse: Callable[[str], tuple[object, ...]]
) -> None:
    quick = expressions._dotted_references(expression)
    assert quick is not None
    assert quick == full_parse(expression)


@pytest.mark.parametrize("expression", NOT_DOTTED_CHAINS)
def test_anything_but_a_plain_attribute_chain_takes_the_full_parse(expression: str) -> None:
    assert expressions._dotted_references(expression) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("params.", "invalid expression `params.`"),
        ("a +", "invalid expression `a +`"),
        ("${{", "not closed with `}}`"),
        ("", "empty expression"),
        ("params.x | shout", "no filter named 'shout'"),
        ("params.x is bright", "no test named 'bright'"),
    ],
)
def test_expressions_that_do_not_parse_are_errors(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_references(expression)
    assert message in str(raised.value)


def test_iter_expressions_walks_nested_values_with_paths() -> None:
    value = {"a": "x ${{ params.n }} y ${{ env.HOME }}", "b": [1, {"c": "${{ item }}"}], "d": "plain"}
    assert list(iter_expressions(value)) == [
        (("a",), "params.n"),
        (("a",), "env.HOME"),
        (("b", 1, "c"), "item"),
    ]


def test_an_unclosed_expression_is_yielded_for_reporting() -> None:
    assert list(iter_expressions("echo ${{ params.n")) == [((), "${{")]


def test_has_expression_looks_inside_containers() -> None:
    assert has_expression({"a": ["${{ x }}"]}) and not has_expression({"a": ["x", 1, None]})


# -- rendering -------------------------------------------------------------------------------


def test_a_whole_expression_keeps_its_type() -> None:
    assert render("${{ params.xs }}", SCOPE) == [1, 2]
    assert render("  ${{ params.n }}  ", SCOPE) == 3
    assert render("${{ tasks.fetch.output.rows[0].id }}", SCOPE) == 1


def test_text_around_expressions_makes_text() -> None:
    assert render("hello ${{ params.who }} x${{ params.n }}", SCOPE) == "hello world x3"


def test_two_expressions_joined_by_text_make_text_not_one_expression() -> None:
    # A lazy `.*?` under fullmatch stretches over `}}`; this once read as `params.who }}-${{ params.n`.
    assert render("${{ params.who }}-${{ params.n }}", SCOPE) == "world-3"
    assert whole_expression("${{ a }}-${{ b }}") is None
    assert whole_expression("  ${{ a.b }} ") == "a.b"


def test_mixed_text_renders_containers_as_json_and_booleans_and_none_plainly() -> None:
    assert render("xs=${{ params.xs }}", SCOPE) == "xs=[1, 2]"
    assert render("flag=${{ params.flag }} none=${{ none }}", SCOPE) == "flag=false none="


def test_render_walks_dicts_and_lists_and_leaves_other_values() -> None:
    value = {"a": ["${{ item.name }}", 5, None], "b": {"c": "${{ env.HOME }}/x"}}
    assert render(value, SCOPE) == {"a": ["a", 5, None], "b": {"c": "/home/me/x"}}


def test_filters_and_operators_work() -> None:
    assert evaluate("params.xs | length", SCOPE) == 2
    assert evaluate("tasks.fetch.status == 'succeeded' and not params.flag", SCOPE) is True
    assert evaluate("params.who | upper", SCOPE) == "WORLD"


# -- StrictUndefined -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("params.missing", "`params.missing` is undefined: 'dict object' has no attribute 'missing'"),
        ("nothing", "`nothing` is undefined: 'nothing' is undefined"),
        ("tasks.fetch.output.nope + 1", "'dict object' has no attribute 'nope'"),
        ("'x: ' ~ params.missing", "has no attribute 'missing'"),
    ],
)
def test_reading_something_undefined_is_an_error_not_an_empty_string(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        evaluate(expression, SCOPE)
    assert message in str(raised.value)


def test_a_runtime_type_error_is_an_expression_error_naming_it() -> None:
    with pytest.raises(ExpressionError, match="failed: TypeError"):
        evaluate("params.who + 1", SCOPE)


# -- the sandbox -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "params.__class__",
        "params.__class__.__mro__",
        "().__class__.__bases__[0].__subclasses__()",
        "params.items.__globals__",
        "params.who.__class__.__init__.__globals__",
        "'{0.__class__}'.format(params)",
        "lipsum.__globals__",
        "cycler.__init__.__globals__['os']",
        "params.xs.append(9)",
        "params.update({'n': 0})",
        "params.pop('n')",
    ],
)
def test_the_sandbox_refuses_dunders_and_mutation(expression: str) -> None:
    before = {"n": 3, "who": "world", "xs": [1, 2], "flag": False}
    with pytest.raises(ExpressionError):
        evaluate(expression, SCOPE)
    assert SCOPE["params"] == before


def test_a_refused_attribute_says_it_is_not_allowed() -> None:
    with pytest.raises(ExpressionError, match="is not allowed: access to attribute '__class__'"):
        evaluate("params.__class__", SCOPE)


# -- truthiness of `when` ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [False, 0, "", "false", "False", " 0 ", "no", "off", "none", "null", [], {}, None])
def test_falsy_values_of_when(value: object) -> None:
    assert is_truthy(value) is False


@pytest.mark.parametrize("value", [True, 1, "yes", "true", "anything", [0], {"a": 1}, 0.1])
def test_truthy_values_of_when(value: object) -> None:
    assert is_truthy(value) is True
