"""Bounds on one expression's size, time and depth (issue #7.9 / #8.10).

The values that would exceed a bound come from ``params`` here, so the expressions pass the
compile-time checks and are refused when evaluated, before the result is made: what the
runner turns into a failed task with this message. The limits are the defaults of
:class:`flowbuilder.limits.ExpressionLimits`; each case asks just past one.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowbuilder import expressions
from flowbuilder.expressions import ExpressionError, evaluate, parse_references, render
from flowbuilder.limits import ExpressionLimits

LIMITS = ExpressionLimits()
TEXT, ITEMS = LIMITS.max_text, LIMITS.max_items
SCOPE: dict[str, Any] = {
    "params": {"n": 3, "s": "ab", "one": 1, "text": TEXT + 1, "count": ITEMS + 1, "wide": LIMITS.max_format_width + 1,
               "bits": LIMITS.max_int_bits, "xs": [1, 2, 3], "x": "x"},
}  # fmt: skip


def refusal(expression: str) -> str:
    with pytest.raises(ExpressionError) as raised:
        evaluate(expression, SCOPE)
    return str(raised.value)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("params.n ** params.bits", "would make a number of about"),
        ("(params.n ** params.bits) | string | length", "would make a number of about"),
        ("params.x * params.text", f"would make a text of {TEXT + 1:,} characters"),
        ("params.text * params.x", f"would make a text of {TEXT + 1:,} characters"),
        ("[0] * params.count", f"would make a list of {ITEMS + 1:,} items"),
        ("(params.x * (params.text // 2)) + (params.x * (params.text // 2 + 1))", "would make a text of"),
        ("('%' ~ params.wide ~ 'd') % params.one", f"has a format width of {LIMITS.max_format_width + 1}"),
        ("('%.' ~ params.wide ~ 'f') % params.one", "has a format width of"),
        ("('{:' ~ params.wide ~ '}').format(params.one)", "has a format width of"),
        ("'{:{}}'.format(1, params.n)", "takes a format width from a nested field"),
        ("'%*d' % (params.n, 1)", "takes a format width from its arguments"),
        ("params.x | center(params.text)", "would make a text of"),
        ("params.x | indent(params.text)", "would make a text of"),
        ("params.x | replace('x', params.x * (TEXT // 2)) | replace('x', 'yyy')", "would make a text of"),
        ("'x' | replace('', params.x * (params.text // 2))", "would make a text of"),
        ("('%s' ~ params.x * (params.text // 2)) | format(params.x * (params.text // 2 + 1))", "would make a text of"),
        ("params.xs | join(params.x * (params.text // 2))", "would make a text of"),
        ("params.x.center(params.text)", "would make a text of"),
        ("params.x.zfill(params.text)", "would make a text of"),
        ("'\t'.expandtabs(params.text)", "would make a text of"),
        ("(params.x * 3).replace('x', params.x * (params.text // 3 + 1))", "would make a text of"),
        ("(params.x * (params.text // 2)) ~ (params.x * (params.text // 2 + 1))", "would make a text of"),
        ("[1] | batch(params.count, 0) | list", "would make a list of"),
        ("params.xs | tojson(indent=params.text)", "indents JSON by"),
        ("params.xs | map('center', params.text // 2) | join", "would make a text of"),
        ("params.xs | sum(start=[])", "sum adds numbers"),
    ],
)
def test_an_expression_past_a_bound_is_refused_before_it_is_computed(expression: str, reason: str) -> None:
    expression = expression.replace("TEXT", str(TEXT))
    message = refusal(expression)
    assert reason in message, message
    assert message.startswith("`")  # names the expression, as the runner's task error will


def test_the_total_made_by_one_evaluation_is_bounded_even_when_each_step_is_small() -> None:
    # Five steps of 9,999,999 characters each stay under max_text; together they pass max_total.
    step = f"(params.x * {TEXT - 1})"
    message = refusal(" ~ '' ~ ".join([f"({step} | length)"] * 6))
    assert f"makes more than {LIMITS.max_total:,} characters and items in all" in message


def test_an_evaluation_past_its_time_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expressions, "LIMITS", ExpressionLimits(max_seconds=0.0))  # every step is late
    assert "takes longer than 0s to evaluate" in refusal("(params.x * 100) | list | map('upper') | join(',')")


def test_the_budget_is_per_evaluation_and_normal_expressions_are_unaffected() -> None:
    for _ in range(3):  # nothing carries over from a refused evaluation to the next
        refusal("params.x * params.text")
        assert evaluate("(params.x * (params.text - 1)) | length", SCOPE) == TEXT
    assert evaluate("params.n ** 1000 % 7", SCOPE) == pow(3, 1000, 7)
    assert evaluate("'%5.2f' % 3.14159", SCOPE) == " 3.14"
    assert evaluate("'{:>6}|{:.3}'.format('ab', 'abcdef')", SCOPE) == "    ab|abc"
    assert evaluate("params.xs | map('string') | join('-')", SCOPE) == "1-2-3"
    assert evaluate("params.s ~ '-' ~ params.n", SCOPE) == "ab-3"
    assert evaluate("params.s | center(6) ~ '|'", SCOPE) == "  ab  |"
    assert evaluate("[params.xs, [4]] | sum(start=0) if false else params.xs | sum", SCOPE) == 6
    assert render("n=${{ params.n * 2 }} s=${{ params.s | upper }}", SCOPE) == "n=6 s=AB"


@pytest.mark.parametrize("name", ["range", "lipsum", "cycler", "joiner", "namespace", "dict"])
def test_jinja2_globals_are_not_there_to_call(name: str) -> None:
    assert "undefined" in refusal(f"{name}(10)")


# -- depth: refused when parsed, at validate time ---------------------------------------------


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("(" * 100 + "params.n" + ")" * 100, "nests brackets 100 deep (the limit is 32)"),
        ("[" * 40 + "1" + "]" * 40, "nests brackets 40 deep"),
        ("not " * 1000 + "params.n", "nests operators, calls or attributes more than 64 deep"),
        ("-" * 1000 + "params.n", "more than 64 deep"),
        ("params" + ".a" * 100, "more than 64 deep"),
        ("params.n" + " + 1" * 100, "more than 64 deep"),
        ("params.n" + " | string" * 100, "more than 64 deep"),
    ],
)
def test_an_expression_nested_past_the_limit_is_a_clear_error_not_a_recursion_error(
    expression: str, reason: str
) -> None:
    for check in (parse_references, lambda text: evaluate(text, SCOPE)):
        with pytest.raises(ExpressionError) as raised:
            check(expression)
        assert reason in str(raised.value)
        assert len(str(raised.value)) < 200  # the expression is quoted by its start only


def test_brackets_inside_quoted_text_do_not_count() -> None:
    assert evaluate("'" + "(" * 100 + '\' ~ "[[[\\""', SCOPE) == "(" * 100 + '[[["'
    assert evaluate("(" * 32 + "1" + ")" * 32, SCOPE) == 1


# -- constant parts: refused at validate time -------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("params.n ** 100000000", "raises to the power 100,000,000"),
        ("'a' * 10**9", "would make a text of 1,000,000,000 characters"),
        ("[0] * 10**9", "would make a list of 1,000,000,000 items"),
        ("'%999999999d' % 1", "has a format width of 999999999"),
        ("'%999999999d' % params.n", "has a format width of 999999999"),
        ("'{:999999999}'.format(params.n)", "has a format width of 999999999"),
        ("'x' | center(10**9)", "would make a text of 1,000,000,000 characters"),
        ("'x' | indent(10**9)", "would make a text of"),
        ("params.s ~ ('x' | replace('x', 'y' * 10**8))", "would make a text of"),
        ("'x'.center(10**9) ~ params.s", "would make a text of"),
    ],
)
def test_a_constant_part_past_a_bound_is_refused_when_the_workflow_is_checked(expression: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_references(expression)
    assert reason in str(raised.value)
    assert raised.value.hint is not None and "in a task" in raised.value.hint


def test_constant_parts_within_the_bounds_pass_the_check() -> None:
    assert parse_references("params.n * 60 * 60 + 2 ** 10 + ('ab' * 3 | length)")[0].root == "params"
    assert parse_references("1 / 0 if params.n else 1")  # not a bound: shown when it runs
