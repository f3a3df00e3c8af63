"""``${{ ... }}`` expressions: parsed and checked when a workflow compiles, evaluated per run.

The engine is Jinja2's immutable sandbox (the same choice Ansible made for its ``when:``
conditions): a well-kept library with a real sandbox — no attribute access to dunders, no
mutation, no ``eval`` — and a syntax users already know (``a.b``, ``a['b-c']``, ``and``,
``not``, ``==``, filters like ``| length``). Jinja2 is imported only when a workflow holds
an expression.

Names an expression may use:

* ``params.<name>`` — the run's parameters;
* ``env.<NAME>`` — the workflow's and the task's ``env``;
* ``tasks.<name>.output`` (and ``.outputs.<key>``, ``.status``) — a task this one depends on,
  directly or not;
* ``item`` — the current element inside ``foreach``;
* ``output`` — the task's own result, inside its ``outputs``.

A string that is one whole expression yields the expression's value with its type (a list
for ``foreach``); a string with text around expressions yields text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, cast

from flowbuilder.errors import FlowBuilderError

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
ROOT_NAMES = frozenset({"params", "env", "tasks", "item", "output"})
_TASK_FIELDS = frozenset({"output", "outputs", "status"})


class ExpressionError(FlowBuilderError):
    """An expression could not be parsed or evaluated; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A name an expression reads: ``root`` with its first key (``tasks``/``fetch``) and second."""

    root: str
    key: str | None = None
    field: str | None = None


def has_expression(value: Any) -> bool:
    """Whether a (nested) value holds any ``${{ }}`` expression."""
    if isinstance(value, str):
        return "${{" in value
    if isinstance(value, dict):
        return any(has_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(has_expression(v) for v in value)
    return False


def iter_expressions(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every expression in a nested value, with the path to the string that holds it."""
    if isinstance(value, str):
        if "${{" in value:
            for match in EXPRESSION.finditer(value):
                yield path, match.group(1).strip()
            if value.count("${{") != len(EXPRESSION.findall(value)):
                yield path, "${{"  # an unclosed expression; reported as a syntax error
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_expressions(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_expressions(item, (*path, index))


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def parse_references(expression: str) -> list[Reference]:
    """The names an expression reads; :class:`ExpressionError` if it does not parse."""
    return list(_parse_references(expression))


@lru_cache(maxsize=4096)
def _parse_references(expression: str) -> tuple[Reference, ...]:
    """Cached by text: big workflows repeat the same few expressions (``params.x``) many times."""
    if expression == "${{":
        raise ExpressionError("an expression opened with `${{` is not closed with `}}`")
    if not expression:
        raise ExpressionError("empty expression `${{ }}`")
    from jinja2 import TemplateSyntaxError, nodes

    try:
        tree = _environment().parse("{{ " + expression + " }}")
    except TemplateSyntaxError as error:
        raise ExpressionError(f"invalid expression `{expression}`: {error.message}") from None
    environment = _environment()
    for used in tree.find_all((nodes.Filter, nodes.Test)):  # the parser does not check these names
        known = environment.filters if isinstance(used, nodes.Filter) else environment.tests
        if used.name not in known:
            kind = "filter" if isinstance(used, nodes.Filter) else "test"
            raise ExpressionError(f"invalid expression `{expression}`: no {kind} named {used.name!r}")
    references: list[Reference] = []
    for name_node in tree.find_all(nodes.Name):
        references.append(Reference(name_node.name))
    # Attribute chains give the keys: tasks.fetch.output -> (tasks, fetch, output). Only the
    # outermost node of a chain counts, so `tasks.a.output` is one reference, not two.
    # find_all() with a tuple of node classes is typed as their common base (Expr)
    chained = cast("list[nodes.Getattr | nodes.Getitem]", list(tree.find_all((nodes.Getattr, nodes.Getitem))))
    inner = {id(node.node) for node in chained}
    for node in chained:
        if id(node) in inner:
            continue
        chain = _chain(node)
        if chain is not None and len(chain) >= 2:
            references.append(Reference(chain[0], chain[1], chain[2] if len(chain) > 2 else None))
    return tuple(dict.fromkeys(references))


def _chain(node: nodes.Node) -> list[str] | None:
    """``tasks.fetch.output`` as ``['tasks', 'fetch', 'output']``; None if not a constant chain."""
    from jinja2 import nodes

    keys: list[str] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            keys.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            keys.append(node.arg.value)
        else:
            keys.clear()  # a computed key: only what is left of it is known
        node = node.node
    if not isinstance(node, nodes.Name):
        return None
    keys.append(node.name)
    keys.reverse()
    return keys


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Callable[..., Any]:
    """A callable evaluating the expression against keyword arguments (cached by text)."""
    from jinja2 import TemplateSyntaxError

    try:
        return _environment().compile_expression(expression, undefined_to_none=False)
    except TemplateSyntaxError as error:
        raise ExpressionError(f"invalid expression `{expression}`: {error.message}") from None


def evaluate(expression: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate one expression; :class:`ExpressionError` with the reason if it fails."""
    from jinja2 import Undefined, UndefinedError
    from jinja2.exceptions import SecurityError

    function = compile_expression(expression)
    try:
        result = function(**scope)
    except UndefinedError as error:
        raise ExpressionError(f"`{expression}`: {error.message}") from None
    except SecurityError as error:
        raise ExpressionError(f"`{expression}` is not allowed: {error}") from None
    except Exception as error:  # arithmetic on wrong types, bad filters, ...
        raise ExpressionError(f"`{expression}` failed: {type(error).__name__}: {error}") from None
    if isinstance(result, Undefined):
        try:
            str(result)  # StrictUndefined raises here, saying what is missing (or what is unsafe)
        except SecurityError as error:
            raise ExpressionError(f"`{expression}` is not allowed: {error}") from None
        except UndefinedError as error:
            raise ExpressionError(f"`{expression}` is undefined: {error.message}") from None
        raise ExpressionError(f"`{expression}` is undefined")
    return result


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` with every expression replaced by its result (nested dicts and lists too)."""
    if isinstance(value, str):
        if "${{" not in value:
            return value
        whole = EXPRESSION.fullmatch(value.strip())
        if whole is not None:
            return evaluate(whole.group(1).strip(), scope)
        return EXPRESSION.sub(lambda match: as_text(evaluate(match.group(1).strip(), scope)), value)
    if isinstance(value, dict):
        return {key: render(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    return value


def as_text(value: Any) -> str:
    """How a value reads where text is needed (mixed templates, env vars, argv):
    lists and dicts as JSON, None as empty, booleans as ``true``/``false`` (as in YAML)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_truthy(value: Any) -> bool:
    """How ``when`` reads a result: false, 0, empty, none and the text 'false'/'0'/'no' are false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "off", "none", "null")
    return bool(value)
