"""Bounds on what one ``${{ }}`` expression may cost: size, time and depth.

Why: Jinja2's sandbox stops an expression from reaching what it must not touch, not from
taking what it likes. ``params.n ** 100000000`` held the scheduler thread for minutes (no
cancel, no timeout could stop it), ``'a' * 10**9`` or ``'x' | center(10**9)`` took gigabytes,
and a hundred nested parentheses crashed ``validate`` with a RecursionError.

How, through the sandbox's own hooks (nothing here runs for an expression that only reads
names, the usual ``${{ params.x }}`` and ``${{ tasks.a.output }}``):

* ``**``, ``*``, ``%`` and ``+`` are intercepted (``intercepted_binops``): the size of the
  result is worked out from the operands *before* it is computed — the digits of a power,
  the length of a repetition or a concatenation, the widths in a ``%`` format;
* every call (``call``) of a string method that pads, repeats or joins is checked the same
  way first, ``str.format`` widths too (``wrap_str_format``);
* every filter is wrapped: those that can amplify (``center``, ``indent``, ``replace``,
  ``format``, ``join``, ``wordwrap``, ``tojson``, ``batch``, ``slice``, ``sum``, ``urlize``)
  are checked before they run, and every result's size after;
* ``~`` is compiled to a bounded join (a code generator hook);
* no globals (``range``, ``lipsum``, ...): the compiler allows no such name anyway;
* each evaluation has a budget — characters and items made in all, and a deadline —
  charged at each of the above, so a long chain of individually small steps stops too.

A refusal raises :class:`ExpressionLimitError`, a one-line reason that
:mod:`flowbuilder.expressions` turns into an :class:`~flowbuilder.expressions.ExpressionError`.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from string import Formatter
from typing import Any, Callable, Iterable

from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flowbuilder.limits import ExpressionLimits


class ExpressionLimitError(Exception):
    """An expression would exceed an :class:`ExpressionLimits` bound; the message says which."""


# -- the per-evaluation budget ---------------------------------------------------------------


class _Budget:
    __slots__ = ("limits", "deadline", "left", "steps")

    def __init__(self, limits: ExpressionLimits):
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.left = limits.max_total
        self.steps = 0


_CLOCK_EVERY = 16
"""Steps between looks at the clock: each step is bounded in size, so a few are quick."""


_local = threading.local()


def begin(limits: ExpressionLimits) -> Any:
    """Start the budget of one evaluation in this thread; pass the result to :func:`end`."""
    previous = getattr(_local, "budget", None)
    _local.budget = _Budget(limits)
    return previous


def end(previous: Any) -> None:
    _local.budget = previous


def _charge(limits: ExpressionLimits, size: int) -> None:
    budget: _Budget | None = getattr(_local, "budget", None)
    if budget is None:  # compiling: sizes are still checked, time is not
        return
    budget.left -= size
    if budget.left < 0:
        raise ExpressionLimitError(f"makes more than {budget.limits.max_total:,} characters and items in all")
    budget.steps += 1
    if (size > 10_000 or budget.steps % _CLOCK_EVERY == 0) and time.monotonic() > budget.deadline:
        raise ExpressionLimitError(f"takes longer than {budget.limits.max_seconds:g}s to evaluate")


def _check_text(limits: ExpressionLimits, length: int, what: str = "a text") -> None:
    if length > limits.max_text:
        raise ExpressionLimitError(f"would make {what} of {length:,} characters (the limit is {limits.max_text:,})")


def _check_items(limits: ExpressionLimits, count: int) -> None:
    if count > limits.max_items:
        raise ExpressionLimitError(f"would make a list of {count:,} items (the limit is {limits.max_items:,})")


def _check_bits(limits: ExpressionLimits, bits: int) -> None:
    if bits > limits.max_int_bits:
        digits = int(bits * 0.30103) + 1
        raise ExpressionLimitError(
            f"would make a number of about {digits:,} digits (the limit is {int(limits.max_int_bits * 0.30103):,})"
        )


def checked(limits: ExpressionLimits, value: Any) -> Any:
    """``value`` if its size is within the limits (charged to the budget); else refuse."""
    kind = type(value)
    if kind is str or kind is bytes or isinstance(value, (str, bytes)):
        _check_text(limits, len(value))
        _charge(limits, len(value))
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        _check_items(limits, len(value))
        _charge(limits, len(value))
    elif kind is int:
        _check_bits(limits, value.bit_length())
        _charge(limits, 1)
    else:
        _charge(limits, 1)
    return value


# -- operators ---------------------------------------------------------------------------------

_SEQUENCES = (str, list, tuple)


def _check_binop(limits: ExpressionLimits, operator: str, left: Any, right: Any) -> None:
    if operator == "**":
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            _check_bits(limits, left.bit_length() * right)
    elif operator == "*":
        if isinstance(left, _SEQUENCES) and _is_int(right):
            _check_repetition(limits, left, right)
        elif isinstance(right, _SEQUENCES) and _is_int(left):
            _check_repetition(limits, right, left)
        elif _is_int(left) and _is_int(right):
            _check_bits(limits, left.bit_length() + right.bit_length())
    elif operator == "+":
        if isinstance(left, str) and isinstance(right, str):
            _check_text(limits, len(left) + len(right))
        elif isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
            _check_items(limits, len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        check_percent_format(limits, left)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_repetition(limits: ExpressionLimits, sequence: Any, times: int) -> None:
    size = len(sequence) * max(times, 0)
    if isinstance(sequence, str):
        _check_text(limits, size)
    else:
        _check_items(limits, size)


_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def check_percent_format(limits: ExpressionLimits, text: str) -> None:
    """Refuse ``'%999999999d'`` (a width or precision past the limit, or one taken from ``*``)."""
    if "%" not in text:
        return
    for match in _PERCENT.finditer(text):
        for number in match.groups():
            _check_width(limits, number)


def _check_width(limits: ExpressionLimits, number: str | None) -> None:
    if number is None or number == "":
        return
    if number == "*":
        raise ExpressionLimitError("takes a format width from its arguments (`*`); write the width itself")
    if len(number) > 9 or int(number) > limits.max_format_width:
        raise ExpressionLimitError(f"has a format width of {number} (the limit is {limits.max_format_width:,})")


_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[_,]?(?:\.(\d+))?[a-zA-Z%]?", re.DOTALL)


def check_brace_format(limits: ExpressionLimits, text: str) -> None:
    """Refuse ``'{:999999999}'`` and widths given by a nested field (``'{:{}}'``)."""
    try:
        fields = list(Formatter().parse(text))
    except ValueError:
        return  # str.format will say what is wrong with it
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise ExpressionLimitError("takes a format width from a nested field (`{:{}}`); write the width itself")
        match = _FORMAT_SPEC.fullmatch(spec)
        if match is not None:
            for number in match.groups():
                _check_width(limits, number)


# -- string methods ----------------------------------------------------------------------------


def _check_str_method(limits: ExpressionLimits, text: str, name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Check a call ``text.name(*args)`` that could amplify; return the args to call it with."""
    if name in ("center", "ljust", "rjust", "zfill") and args and _is_int(args[0]):
        _check_text(limits, args[0])
    elif name == "expandtabs":
        tabsize = args[0] if args and _is_int(args[0]) else 8
        _check_text(limits, len(text) + text.count("\t") * max(tabsize, 0))
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = args[2] if len(args) > 2 and _is_int(args[2]) else -1
        _check_text(limits, replaced_length(text, args[0], args[1], count))
    elif name == "join" and args:
        items = _materialise(limits, args[0])
        _check_text(limits, joined_length(items, text))
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        _check_text(limits, len(text) * max(longest, 1))
    return args


def replaced_length(text: str, old: str, new: str, count: int | None) -> int:
    """The length of ``text.replace(old, new, count)``, without making it."""
    found = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def joined_length(items: list[Any], separator: str) -> int:
    return sum(len(item) if isinstance(item, str) else len(str(item)) for item in items) + len(separator) * max(
        len(items) - 1, 0
    )


def _materialise(limits: ExpressionLimits, iterable: Any) -> list[Any]:
    items = []
    for item in iterable:
        items.append(item)
        if len(items) > limits.max_items:
            _check_items(limits, len(items))
    _charge(limits, len(items))
    return items


# -- filters -----------------------------------------------------------------------------------

Precheck = Callable[..., "tuple[tuple[Any, ...], dict[str, Any]] | None"]


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str, default: Any) -> Any:
    if len(args) > position:
        return args[position]
    return kwargs.get(name, default)


def _center(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    width = _argument(args, kwargs, 1, "width", 80)
    if _is_int(width):
        _check_text(limits, width)


def _indent(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    text, width = str(args[0]) if args else "", _argument(args, kwargs, 1, "width", 4)
    step = width if _is_int(width) else len(str(width))
    _check_text(limits, len(text) + (text.count("\n") + 1) * max(step, 0))


def _format(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if args:
        check_percent_format(limits, str(args[0]))


def _replace(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    text = args[0] if args else ""
    old, new = _argument(args, kwargs, 1, "old", ""), _argument(args, kwargs, 2, "new", "")
    count = _argument(args, kwargs, 3, "count", None)
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        _check_text(limits, replaced_length(text, old, new, count if _is_int(count) else None))


def _join(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    if not args:
        return None
    items = _materialise(limits, args[0])
    separator = str(_argument(args, kwargs, 1, "d", ""))
    if _argument(args, kwargs, 2, "attribute", None) is None:
        _check_text(limits, joined_length(items, separator))
    else:
        _check_text(limits, len(separator) * max(len(items) - 1, 0))
    return (items, *args[1:])


def _wordwrap(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    text = str(args[0]) if args else ""
    wrapstring = _argument(args, kwargs, 3, "wrapstring", None) or "\n"
    width = _argument(args, kwargs, 1, "width", 79)
    lines = len(text) // max(width, 1) + text.count("\n") + 1 if _is_int(width) else len(text) + 1
    _check_text(limits, len(text) + lines * len(str(wrapstring)))


def _tojson(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    indent = _argument(args, kwargs, 1, "indent", None)
    step = indent if _is_int(indent) else len(str(indent)) if indent is not None else 0
    if step > 64:
        raise ExpressionLimitError(f"indents JSON by {step} (the limit is 64)")


def _count_argument(position: int, name: str) -> Callable[..., None]:
    def check(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        count = _argument(args, kwargs, position, name, 1)
        if _is_int(count):
            _check_items(limits, count)

    return check


def _sum(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    start = _argument(args, kwargs, 2, "start", 0)
    if not isinstance(start, (int, float)):
        raise ExpressionLimitError("sum adds numbers; its start must be a number (to flatten lists, use `| map` and `| list`)")  # fmt: skip


def _urlize(limits: ExpressionLimits, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for position, name in ((3, "target"), (4, "rel")):
        value = _argument(args, kwargs, position, name, None)
        if isinstance(value, str) and len(value) > limits.max_format_width:
            raise ExpressionLimitError(f"urlize {name} of {len(value):,} characters (the limit is {limits.max_format_width:,})")  # fmt: skip


_PRECHECKS: dict[str, Callable[..., Any]] = {
    "center": _center,
    "indent": _indent,
    "format": _format,
    "replace": _replace,
    "join": _join,
    "wordwrap": _wordwrap,
    "tojson": _tojson,
    "batch": _count_argument(1, "linecount"),
    "slice": _count_argument(1, "slices"),
    "sum": _sum,
    "urlize": _urlize,
}


def _bounded_filter(name: str, function: Callable[..., Any], limits: ExpressionLimits) -> Callable[..., Any]:
    precheck = _PRECHECKS.get(name)
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0  # environment or context first

    @functools.wraps(function)  # keeps jinja_pass_arg, so Jinja passes the same first argument
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if precheck is not None:
            replaced = precheck(limits, args[skip:], kwargs)
            if replaced is not None:
                args = (*args[:skip], *replaced)
        return checked(limits, function(*args, **kwargs))

    return bounded


# -- the environment ---------------------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to the environment's bounded join instead of a plain one."""

    def visit_Concat(self, node: Any, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with :class:`ExpressionLimits` on every costly operation."""

    intercepted_binops = frozenset({"**", "*", "%", "+"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, limits: ExpressionLimits, **options: Any):
        super().__init__(**options)
        self.limits = limits
        self.globals.clear()  # range, lipsum, cycler, ...: no workflow may name them anyway
        self.filters = {name: _bounded_filter(name, function, limits) for name, function in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(self.limits, operator, left, right)
        return checked(self.limits, super().call_binop(context, operator, left, right))

    def call(self, context: Any, function: Any, /, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(function, "__self__", None)
        if isinstance(owner, str):
            args = _check_str_method(self.limits, owner, getattr(function, "__name__", ""), args)
        return checked(self.limits, super().call(context, function, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            check_brace_format(self.limits, value.__self__)
        return wrapped

    def bounded_concat(self, values: Iterable[Any]) -> str:
        parts = [value if isinstance(value, str) else str(value) for value in values]
        _check_text(self.limits, sum(map(len, parts)))
        joined: str = checked(self.limits, "".join(parts))
        return joined
