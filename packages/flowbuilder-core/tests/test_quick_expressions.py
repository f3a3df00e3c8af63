"""Plain chains (``params.who``) and chains compared with a whole number (``params.rounds > 0``)
are read without Jinja2, at compile time and at run time; these tests hold the quick path to
what Jinja2 gives for the same text: the same references, the same value of the same type, the
same error message."""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import Any, Callable, Iterator, Mapping

import pytest

from flowbuilder import expressions
from flowbuilder.expressions import ExpressionError, evaluate, reads_as_plain_mapping

# -- references at compile time ---------------------------------------------------------------

COMPARED_CHAINS = [
    "params.rounds > 0", "params.n==3", "tasks.a.output != 0", "x <= 12345", "params.n>=0",
    "params.n < 999999999999999999", "tasks.fetch.outputs.count > 7", "tasks.not.output == 1",
    "params.if\t>\t2", "_private.key < 10", "params.n  ==  0", "a.b.c.d.e.f.g.h >= 1",
]  # fmt: skip
NOT_COMPARED_CHAINS = [
    "params.n > -1", "params.n > 01", "params.n > 1_000", "params.n > 1.5", "params.n > 'a'",
    "params.n > 0 > 1", "true > 0", "not.x > 0", "params.n => 0", "params.n > 9999999999999999999",
    "params.n >", "0 < params.n", "params.n = 0", "params.n > 0x10", "params .n > 0", "params.n is 0",
    "params.n in 0", "a.b.c.d.e.f.g.h.i > 0", "params.é > 0", "params.n > 1e3", "params.n <> 0",
]  # fmt: skip


@pytest.mark.parametrize("expression", COMPARED_CHAINS)
def test_a_chain_compared_with_a_number_skips_jinja_and_gives_what_jinja_gives(
    expression: str, full_parse: Callable[[str], tuple[object, ...]]
) -> None:
    quick = expressions._dotted_references(expression)
    assert quick is not None
    assert quick == full_parse(expression)


@pytest.mark.parametrize("expression", NOT_COMPARED_CHAINS)
def test_any_other_comparison_takes_the_full_parse(expression: str) -> None:
    assert expressions._dotted_references(expression) is None
    assert expressions._quick_form(expression) is None


# -- values at run time -----------------------------------------------------------------------


@reads_as_plain_mapping
class _ResultsView(Mapping[str, Any]):
    """Like the runner's view of task results: slots, no ``__getattr__``, reads without side effects."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]):
        self._data = data

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class _OtherMapping(_ResultsView):
    """Not declared plain: read by Jinja2 only."""


class _DictSubclass(dict):  # type: ignore[type-arg]
    pass


class _Weird:
    def __gt__(self, other: object) -> bool:
        raise ValueError("no order here")

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


VALUES: list[Any] = [
    0, 1, -5, 2, 3, 10**20, True, False, None, 1.5, float("nan"), "", "7", "word", [1, 2], [], {"k": 1}, {},
    (1,), _Weird(),
]  # fmt: skip


def _scopes() -> Iterator[dict[str, Any]]:
    for value in VALUES:
        yield {
            "params": {"n": value, "items": 4, "_x": value, "nested": {"deep": {"er": value}}},
            "tasks": _ResultsView({"fetch": {"output": value, "status": "succeeded"}, "items": {"output": 1}}),
            "env": _OtherMapping({"HOME": value}),
            "item": _DictSubclass(name=value),
            "run": {"id": "r1", "logical_time": None},
            "output": value,
        }


EXPRESSIONS = [
    "params.n", "params.items", "params.keys", "params._x", "params.nested.deep.er", "params.missing",
    "params.n.real", "params.nested.deep", "tasks.fetch.output", "tasks.fetch.status", "tasks.items.output",
    "tasks.missing.output", "tasks.get", "tasks.fetch.output.k", "env.HOME", "item.name", "run.id",
    "run.logical_time", "output", "secrets", "secrets.TOKEN", "params.__class__", "params.n.__class__",
    "tasks._data", "params.nested.__len__",
    *(f"{chain} {op} {literal}" for chain, op, literal in itertools.product(
        ["params.n", "tasks.fetch.output", "params.missing", "output", "item.name", "params.items", "env.HOME"],
        ["==", "!=", "<", "<=", ">", ">="],
        ["0", "2", "999999999999999999"],
    )),
]  # fmt: skip


def _outcome(function: Any, expression: str, scope: Mapping[str, Any]) -> tuple[str, Any]:
    try:
        result = function(expression, scope)
    except ExpressionError as error:
        return "error", str(error)
    return "value", result


def _same(quick: tuple[str, Any], full: tuple[str, Any]) -> bool:
    if quick[0] != full[0] or type(quick[1]) is not type(full[1]):
        return False
    if quick[1] is full[1]:  # NaN and other objects equal only to themselves
        return True
    return bool(quick[1] == full[1])


def _answered_without_jinja(expression: str, scope: Mapping[str, Any]) -> bool:
    form = expressions._quick_form(expression)
    if form is None:
        return False
    try:
        return expressions._quick_value(form, scope) is not expressions._NEEDS_JINJA
    except Exception:  # raised by the comparison itself, as Jinja2's would be
        return True


def test_the_quick_path_gives_what_jinja_gives_on_every_expression_and_value() -> None:
    compared = quick_taken = 0
    for scope in _scopes():
        for expression in EXPRESSIONS:
            full = _outcome(expressions._evaluate_with_jinja, expression, scope)
            quick = _outcome(evaluate, expression, scope)
            assert _same(quick, full), (expression, scope["params"]["n"], quick, full)
            compared += 1
            quick_taken += _answered_without_jinja(expression, scope)
    assert compared == len(VALUES) * len(EXPRESSIONS)
    assert quick_taken > compared // 3  # most of them were answered without Jinja2


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("params.n > 0", True), ("params.n == 3", False), ("tasks.fetch.output", 2), ("params._x >= 2", True),
        ("params.nested.deep.er", 2), ("run.logical_time", None),
    ],
)  # fmt: skip
def test_these_are_read_without_jinja(expression: str, expected: Any) -> None:
    scope = next(s for s in _scopes() if s["params"]["n"] == 2 and type(s["params"]["n"]) is int)
    form = expressions._quick_form(expression)
    assert form is not None
    assert expressions._quick_value(form, scope) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "params.keys",
        "params.missing",
        "env.HOME",
        "item.name",
        "tasks.get",
        "params.__class__",
        "self.x",
        "true",
        "params.items",
        "tasks.items.output",  # dict.items and Mapping.items: Jinja2 reads the method first
    ],
)
def test_these_go_to_jinja(expression: str) -> None:
    scope = next(_scopes())
    form = expressions._quick_form(expression)
    assert form is None or expressions._quick_value(form, scope) is expressions._NEEDS_JINJA


def test_a_scope_that_is_not_a_dict_goes_to_jinja() -> None:
    form = expressions._quick_form("params.n")
    assert form is not None
    assert expressions._quick_value(form, _OtherMapping({"params": {"n": 1}})) is expressions._NEEDS_JINJA
    assert evaluate("params.n", _OtherMapping({"params": {"n": 1}})) == 1


def test_comparing_what_does_not_compare_fails_as_jinja_fails() -> None:
    with pytest.raises(ExpressionError) as raised:
        evaluate("params.n > 0", {"params": {"n": "7"}})
    assert (
        str(raised.value) == "`params.n > 0` failed: TypeError: '>' not supported between instances of 'str' and 'int'"
    )


def test_plain_chains_and_comparisons_never_import_jinja() -> None:
    code = (
        "import sys\n"
        "from flowbuilder.expressions import evaluate, parse_references\n"
        "scope = {'params': {'who': 'Ada', 'rounds': 2}, 'tasks': {'greet': {'output': 'hi'}}}\n"
        "assert parse_references('params.rounds > 0') == parse_references('params.rounds')\n"
        "assert evaluate('params.rounds > 0', scope) is True\n"
        "assert evaluate('tasks.greet.output', scope) == 'hi'\n"
        "assert evaluate('params.who', scope) == 'Ada'\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'jinja2'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
