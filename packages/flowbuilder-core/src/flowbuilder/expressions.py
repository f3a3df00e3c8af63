"""``${{ ... }}`` expressions: parsed and checked when a workflow compiles, evaluated per run.

The engine is Jinja2's immutable sandbox (the same choice Ansible made for its ``when:``
conditions): a well-kept library with a real sandbox — no attribute access to dunders, no
mutation, no ``eval`` — and a syntax users already know (``a.b``, ``a['b-c']``, ``and``,
``not``, ``==``, filters like ``| length``). Jinja2 is imported only when an expression is
more than a plain attribute chain (``tasks.fetch.output``) or such a chain compared with a
whole number (``params.rounds > 0``): those are read with plain Python, step by step as
Jinja2 would (see :func:`_quick_value`).

Names an expression may use:

* ``params.<name>`` — the run's parameters;
* ``env.<NAME>`` — the workflow's and the task's ``env``;
* ``tasks.<name>.output`` (and ``.outputs.<key>``, ``.status``) — a task this one depends on,
  directly or not;
* ``item`` — the current element inside ``foreach``;
* ``output`` — the task's own result, inside its ``outputs``.

A string that is one whole expression yields the expression's value with its type (a list
for ``foreach``); a string with text around expressions yields text.

Public for plugins (what ``__all__`` lists): task types that render their own config
(``TaskType.render_config``) use :func:`render`, :func:`as_text`, :data:`EXPRESSION` and
:func:`whole_expression`;
runners use :func:`evaluate` and :func:`is_truthy` for ``when:``; every failure is an
:class:`ExpressionError` (also exported by ``flowbuilder``).
"""

from __future__ import annotations

import operator
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, TypeVar

from flowbuilder.errors import FlowBuilderError
from flowbuilder.limits import ExpressionLimits

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

_T = TypeVar("_T")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
ROOT_NAMES = frozenset({"params", "env", "tasks", "item", "output", "secrets", "run"})
RUN_FIELDS = frozenset({"id", "logical_time"})
"""What ``run.<name>`` offers: the run's id and its scheduled ``logical_time`` (None if unscheduled)."""
_TASK_FIELDS = frozenset({"output", "outputs", "status"})


class ExpressionError(FlowBuilderError):
    """An expression could not be parsed or evaluated; the message says which and why.

    ``hint``, when set, says what to do instead (``validate`` shows it after the message).
    """

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


_SPLIT_HINT = "split it into simpler expressions, or compute the value in a task"
_LIMIT_HINT = "expressions are for small values; make large ones in a task (script or python) and read its output"


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
            found = EXPRESSION.findall(value)  # one pass: the expressions, and how many closed
            for expression in found:
                yield path, expression.strip()
            if value.count("${{") != len(found):
                yield path, "${{"  # an unclosed expression; reported as a syntax error
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_expressions(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_expressions(item, (*path, index))


LIMITS = ExpressionLimits()
"""The bounds every expression is held to (see :class:`~flowbuilder.limits.ExpressionLimits`)."""


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined

    from flowbuilder.expression_bounds import BoundedSandbox

    return BoundedSandbox(LIMITS, undefined=StrictUndefined, autoescape=False)


def load_expression_engine() -> None:
    """Import Jinja2 and build the sandbox now, not at the first expression that needs them.

    For :meth:`flowbuilder.run_service.RunService.warm`; simple dotted references
    (``${{ params.x }}``) never need them, so nothing else loads them ahead of time.
    """
    _environment()


def _shown(expression: str) -> str:
    """The expression as quoted in a message: whole if short, else its start."""
    return expression if len(expression) <= 80 else expression[:77] + "..."


def _parse(expression: str) -> tuple[Any, list[tuple[Any, list[Any]]]]:
    """Jinja2's tree of an expression and its nodes in order, refusing one nested past the
    limits before it can exhaust the parser's or the compiler's stack (they recurse once
    per level)."""
    from jinja2 import TemplateSyntaxError

    brackets = _bracket_depth(expression)
    if brackets > LIMITS.max_brackets:
        raise ExpressionError(f"`{_shown(expression)}` nests brackets {brackets} deep (the limit is"
                              f" {LIMITS.max_brackets})", _SPLIT_HINT)  # fmt: skip
    try:
        tree = _environment().parse("{{ " + expression + " }}")
    except TemplateSyntaxError as error:
        dotted = _DOTTED_DIGIT_NAME.search(expression)
        if dotted is not None:  # `tasks.1000genome`: the lexer reads a number, then a stray name
            raise ExpressionError(
                f"invalid expression `{_shown(expression)}`: a name that starts with a digit cannot follow a dot;"
                f" write {dotted.group(1)}['{dotted.group(2)}']"
            ) from None
        raise ExpressionError(f"invalid expression `{_shown(expression)}`: {error.message}") from None
    except RecursionError:  # a long chain of `not` or `-`: the parser recurses once per operator
        tree = None
    walked = _walk(tree, LIMITS.max_depth) if tree is not None else None
    if walked is None:
        raise ExpressionError(f"`{_shown(expression)}` nests operators, calls or attributes more than"
                              f" {LIMITS.max_depth} deep", _SPLIT_HINT)  # fmt: skip
    return tree, walked


def _bracket_depth(expression: str) -> int:
    """The deepest nesting of (), [] and {} outside quoted strings."""
    if "(" not in expression and "[" not in expression and "{" not in expression:
        return 0
    depth = deepest = 0
    quote = ""
    escaped = False
    for character in expression:
        if quote:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == quote:
                quote = ""
        elif character in "'\"":
            quote = character
        elif character in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in ")]}":
            depth -= 1
    return deepest


def _walk(tree: Any, limit: int) -> list[tuple[Any, list[Any]]] | None:
    """Every node of a tree with its children, in depth-first order, walked without recursion;
    None if the tree is deeper than ``limit``.

    One walk serves every check of :func:`_parse_references` (Jinja2's ``find_all`` walks
    the whole tree, recursively, for each question asked).
    """
    ordered: list[tuple[Any, list[Any]]] = []
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return None
        children = list(node.iter_child_nodes())
        ordered.append((node, children))
        stack.extend((child, depth + 1) for child in reversed(children))
    return ordered


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
    dotted = _dotted_references(expression)
    if dotted is not None:
        return dotted
    from jinja2 import nodes

    _, tree_nodes = _parse(expression)
    walked = [node for node, _ in tree_nodes]
    environment = _environment()
    for item in walked:  # `tasks.123` reads the number 123, never the name "123"
        if (
            type(item) is nodes.Getitem
            and isinstance(item.node, nodes.Name)
            and item.node.name in ROOT_NAMES
            and _is_number(item.arg)
        ):
            key = getattr(item.arg, "value", None)  # a Const: _is_number said so
            raise ExpressionError(
                f"invalid expression `{_shown(expression)}`: {item.node.name}.{key} reads the number {key};"
                f" names are text, write {item.node.name}['{key}']"
            )
    for used in walked:  # the parser does not check these names
        if not isinstance(used, (nodes.Filter, nodes.Test)):
            continue
        known = environment.filters if isinstance(used, nodes.Filter) else environment.tests
        if used.name not in known:
            kind = "filter" if isinstance(used, nodes.Filter) else "test"
            raise ExpressionError(f"invalid expression `{_shown(expression)}`: no {kind} named {used.name!r}")
    problem = _constant_problem(tree_nodes)
    if problem is not None:
        raise ExpressionError(f"`{_shown(expression)}` {problem}", _LIMIT_HINT)
    references: list[Reference] = []
    for name_node in walked:
        if type(name_node) is nodes.Name:
            references.append(Reference(name_node.name))
    # Attribute chains give the keys: tasks.fetch.output -> (tasks, fetch, output). Only the
    # outermost node of a chain counts, so `tasks.a.output` is one reference, not two.
    chained = [node for node in walked if isinstance(node, (nodes.Getattr, nodes.Getitem))]
    inner = {id(node.node) for node in chained}
    for node in chained:
        if id(node) in inner:
            continue
        chain = _chain(node)
        if chain is not None and len(chain) >= 2:
            references.append(Reference(chain[0], chain[1], chain[2] if len(chain) > 2 else None))
    return tuple(dict.fromkeys(references))


_DOTTED_CHAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*){0,7}\Z")
# Names Jinja2 reads as a constant or an operator where an expression starts: such a text
# takes the full parse, whatever follows.
_NOT_A_NAME = frozenset(
    {"true", "false", "True", "False", "none", "None", "not", "and", "or", "in", "is", "if", "else"}
)


def _dotted_references(expression: str) -> tuple[Reference, ...] | None:
    """The references of a plain attribute chain (``tasks.fetch.output``, ``params.region``),
    or of such a chain compared with a whole number (``params.rounds > 0``), without Jinja2;
    None for any other expression, which then takes the full parse.

    Most expressions of a large workflow are such chains, and each names a different task,
    so the cache does not help: Jinja2's lexer and parser took half of compiling a 10,000-task
    file (bench/compile.py). The result is what the full parse gives for the same text
    (test_expressions.py compares the two): the root as a name, then the chain's first
    three parts. A chain of more than eight parts takes the full parse, whose depth limit
    then applies. A comparison with a literal names what its chain names: the literal is a
    constant, and a comparison computes nothing that the limits would bound.
    """
    if _DOTTED_CHAIN.match(expression) is None:
        compared = _COMPARED_CHAIN.match(expression)
        if compared is None:
            return None
        expression = compared.group(1)
    parts = expression.split(".")
    root = parts[0]
    if root in _NOT_A_NAME:
        return None
    if len(parts) == 1:
        return (Reference(root),)
    return (Reference(root), Reference(root, parts[1], parts[2] if len(parts) > 2 else None))


_COMPARED_CHAIN = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*){0,7})\s*(==|!=|<=|>=|<|>)\s*(0|[1-9][0-9]{0,17})\Z"
)
"""A plain attribute chain compared with a whole number written in decimal (``params.rounds > 0``):
what Jinja2 reads as ``Compare(chain, [Operand(op, Const(int))])``. ``\\s`` is Jinja2's own
whitespace (its lexer skips ``\\s+`` between tokens); the operators are its six comparisons,
longest first as its lexer takes them; a literal with a leading zero, a sign, ``_`` or more
than 18 digits takes the full parse."""

_DOTTED_DIGIT_NAME = re.compile(r"\b(params|env|tasks)\.([0-9][A-Za-z0-9_-]*[A-Za-z_][A-Za-z0-9_-]*)")


def _is_number(node: nodes.Node) -> bool:
    from jinja2 import nodes

    return isinstance(node, nodes.Const) and isinstance(node.value, int) and not isinstance(node.value, bool)


def _constant_problem(tree_nodes: list[tuple[Any, list[Any]]]) -> str | None:
    """Why a part of the expression that reads no name would exceed the limits, if it would.

    That part (``'a' * 10**9``, ``'x' | center(10**9)``, ``'%999999999d' % 1``) is the same
    on every run, so it is evaluated here, within the limits, and a refusal is reported at
    validate time with the file's line and column. So is a constant exponent past the
    limit on any base (``params.n ** 100000000``), since no integer base above 1 fits, and
    a literal format with a width past the limit, whatever it formats.
    """
    from jinja2 import nodes

    from flowbuilder.expression_bounds import ExpressionLimitError, check_brace_format, check_percent_format

    # What can make a large value; `and`, `or`, `not`, comparisons and conditions only pass
    # one on (their operands are checked in their own right).
    work = (nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow, nodes.Filter,
            nodes.Call, nodes.Concat)  # fmt: skip
    if not any(isinstance(node, work) for node, _ in tree_nodes):
        return None  # the usual case: names, attributes, subscripts and literals only
    try:
        for node, _ in tree_nodes:
            kind = type(node)
            if kind is nodes.Pow and _is_const(node.right, int) and node.right.value > LIMITS.max_int_bits:
                return f"raises to the power {node.right.value:,}, past any number within the limit of {LIMITS.max_int_bits:,} bits"  # fmt: skip
            if kind is nodes.Mod and _is_const(node.left, str):
                check_percent_format(LIMITS, node.left.value)
            elif kind is nodes.Getattr and node.attr in ("format", "format_map") and _is_const(node.node, str):
                check_brace_format(LIMITS, node.node.value)
    except ExpressionLimitError as error:
        return str(error)
    # Which subtrees read a name and which compute something: children follow their parent
    # in `tree_nodes`, so one pass backwards sees every child before its parent.
    reads: dict[int, bool] = {}
    computes: dict[int, bool] = {}
    children_of: dict[int, list[Any]] = {}
    for node, children in reversed(tree_nodes):
        children_of[id(node)] = children
        reads[id(node)] = type(node) is nodes.Name or any(reads[id(child)] for child in children)
        computes[id(node)] = isinstance(node, work) or any(computes[id(child)] for child in children)
    pending = [tree_nodes[0][0]]
    while pending:
        node = pending.pop()
        if isinstance(node, nodes.Expr) and computes[id(node)] and not reads[id(node)]:
            problem = _evaluate_constant(node)
            if problem is not None:
                return problem
            continue
        pending.extend(children_of[id(node)])
    return None


def _is_const(node: Any, kind: type) -> bool:
    from jinja2 import nodes

    return isinstance(node, nodes.Const) and isinstance(node.value, kind) and not isinstance(node.value, bool)


def _evaluate_constant(node: Any) -> str | None:
    """Evaluate a subtree that reads no name, within the limits; the refusal if there is one."""
    from jinja2 import nodes

    from flowbuilder.expression_bounds import ExpressionLimitError, begin, end

    environment = _environment()
    template = nodes.Template([nodes.Output([node])], lineno=1)
    budget = begin(LIMITS)
    try:
        code = environment.compile(template.set_environment(environment))  # type: ignore[call-overload]  # a node tree compiles as a template does; jinja2's stubs name only str
        environment.template_class.from_code(environment, code, environment.make_globals(None)).render()
    except ExpressionLimitError as error:
        return str(error)
    except Exception:  # other failures do not depend on the limits; they show at run time
        return None
    finally:
        end(budget)
    return None


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

    _parse(expression)  # refuses what is nested too deeply for Jinja2's compiler
    try:
        return _environment().compile_expression(expression, undefined_to_none=False)
    except TemplateSyntaxError as error:
        raise ExpressionError(f"invalid expression `{_shown(expression)}`: {error.message}") from None


def evaluate(expression: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate one expression; :class:`ExpressionError` with the reason if it fails."""
    form = _quick_form(expression)
    if form is not None:
        try:
            result = _quick_value(form, scope)
        except RecursionError:  # as below: the same operation fails the same way on either path
            raise ExpressionError(f"`{_shown(expression)}` failed: its data is nested too deeply") from None
        except Exception as error:
            raise ExpressionError(f"`{_shown(expression)}` failed: {type(error).__name__}: {error}") from None
        if result is not _NEEDS_JINJA and not _is_undefined(result):
            return result
    return _evaluate_with_jinja(expression, scope)


def _evaluate_with_jinja(expression: str, scope: Mapping[str, Any]) -> Any:
    from jinja2 import Undefined, UndefinedError
    from jinja2.exceptions import SecurityError

    from flowbuilder.expression_bounds import ExpressionLimitError, begin, end

    function = compile_expression(expression)
    budget = begin(LIMITS)
    try:
        result = function(**scope)
    except ExpressionLimitError as error:
        raise ExpressionError(f"`{_shown(expression)}` {error}", _LIMIT_HINT) from None
    except RecursionError:  # deeply nested data (a value, not the expression) walked by a filter
        raise ExpressionError(f"`{_shown(expression)}` failed: its data is nested too deeply") from None
    except UndefinedError as error:
        raise ExpressionError(f"`{expression}`: {error.message}") from None
    except SecurityError as error:
        raise ExpressionError(f"`{expression}` is not allowed: {error}") from None
    except Exception as error:  # arithmetic on wrong types, bad filters, ...
        raise ExpressionError(f"`{_shown(expression)}` failed: {type(error).__name__}: {error}") from None
    finally:
        end(budget)
    if isinstance(result, Undefined):
        try:
            str(result)  # StrictUndefined raises here, saying what is missing (or what is unsafe)
        except SecurityError as error:
            raise ExpressionError(f"`{expression}` is not allowed: {error}") from None
        except UndefinedError as error:
            raise ExpressionError(f"`{expression}` is undefined: {error.message}") from None
        raise ExpressionError(f"`{expression}` is undefined")
    return result


# -- reading plain chains without Jinja2 ---------------------------------------------------------

_NEEDS_JINJA: Any = object()
"""What :func:`_quick_value` returns when only Jinja2 can say what the expression gives
(a missing name or key, whose message is Jinja2's, or a value it would treat otherwise)."""

_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip

_PLAIN_MAPPINGS: set[type] = {dict}
"""Types whose items a chain may read without Jinja2 (see :func:`reads_as_plain_mapping`)."""


def reads_as_plain_mapping(kind: type[_T]) -> type[_T]:
    """Class decorator: let ``${{ x.key }}`` read ``kind``'s items without Jinja2.

    For a read-only mapping whose instances have no ``__dict__`` (``__slots__``), no
    ``__getattr__``, and whose ``__getitem__`` has no side effect (it may run twice: once
    here, and again in Jinja2 when the key is missing). Then Jinja2's sandbox, which tries
    ``getattr(value, key)`` first, fails on every key that is not a class attribute, and
    reads ``value[key]``: exactly what :func:`_quick_value` does.
    """
    _PLAIN_MAPPINGS.add(kind)
    return kind


@lru_cache(maxsize=4096)
def _quick_form(expression: str) -> tuple[tuple[str, ...], Callable[[Any, Any], Any] | None, int] | None:
    """``params.rounds > 0`` as ``(("params", "rounds"), operator.gt, 0)``; a plain chain
    with no comparison; None for anything else (or a root a run never defines), which
    Jinja2 evaluates."""
    compare: Callable[[Any, Any], Any] | None = None
    literal = 0
    if _DOTTED_CHAIN.match(expression) is None:
        compared = _COMPARED_CHAIN.match(expression)
        if compared is None:
            return None
        expression, compare, literal = compared.group(1), _COMPARISONS[compared.group(2)], int(compared.group(3))
    parts = tuple(expression.split("."))
    if parts[0] not in ROOT_NAMES:  # Jinja2 gives some names a meaning of its own (`self`, `true`)
        return None
    return parts, compare, literal


def _quick_value(form: tuple[tuple[str, ...], Callable[[Any, Any], Any] | None, int], scope: Mapping[str, Any]) -> Any:
    """What Jinja2's sandbox gives for a plain chain (compared with a literal), read with plain
    Python; :data:`_NEEDS_JINJA` whenever a step is not a plain item read.

    The same steps as Jinja2's compiled expression: the root from the scope, then for each
    key ``environment.getattr(value, key)`` — ``getattr`` first, which for a dict (or a
    type declared with :func:`reads_as_plain_mapping`) fails exactly when the key is not a
    class attribute, then ``value[key]`` — and last the same Python comparison with the
    same ``int``. A missing name or key goes to Jinja2, whose StrictUndefined makes the
    error message; any other exception is the one Jinja2 would have raised.
    """
    parts, compare, literal = form
    if type(scope) is not dict:
        return _NEEDS_JINJA
    value = scope.get(parts[0], _NEEDS_JINJA)
    if value is _NEEDS_JINJA:
        return _NEEDS_JINJA
    for key in parts[1:]:
        kind = type(value)
        if kind not in _PLAIN_MAPPINGS or hasattr(kind, key):
            return _NEEDS_JINJA
        try:
            value = value[key]
        except (TypeError, LookupError):
            return _NEEDS_JINJA
    return value if compare is None else compare(value, literal)


def _is_undefined(value: Any) -> bool:
    """Whether a value is one of Jinja2's undefined objects (only possible once Jinja2 is loaded)."""
    runtime = sys.modules.get("jinja2.runtime")
    return runtime is not None and isinstance(value, runtime.Undefined)


def whole_expression(text: str) -> str | None:
    """The expression ``text`` is made of, if it is exactly one ``${{ }}`` (spaces around
    allowed), else None.

    Why not ``EXPRESSION.fullmatch``: its lazy ``.*?`` stretches over ``}}`` to make a match,
    so ``${{ a }}-${{ b }}`` would read as the one expression ``a }}-${{ b``. The first
    expression must end where the text does.
    """
    stripped = text.strip()
    first = EXPRESSION.match(stripped)
    if first is None or first.end() != len(stripped):
        return None
    return first.group(1).strip()


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` with every expression replaced by its result (nested dicts and lists too)."""
    if isinstance(value, str):
        if "${{" not in value:
            return value
        whole = whole_expression(value)
        if whole is not None:
            return evaluate(whole, scope)
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


__all__ = [
    "EXPRESSION",
    "ExpressionError",
    "LIMITS",
    "ROOT_NAMES",
    "Reference",
    "as_text",
    "compile_expression",
    "evaluate",
    "has_expression",
    "is_truthy",
    "iter_expressions",
    "parse_references",
    "reads_as_plain_mapping",
    "render",
    "whole_expression",
]
