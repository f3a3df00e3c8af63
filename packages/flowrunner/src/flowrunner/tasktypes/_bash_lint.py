"""Finding expression values that bash would evaluate as code.

Bash evaluates a variable's *contents* as an arithmetic expression in ``$(( ))``, ``$[ ]``,
``(( ))``, ``let``, ``declare -i``, array subscripts and the arithmetic tests of ``[[ ]]``
(``-eq``, ``-lt``, ..., ``-v``), and an array subscript inside that text is expanded — so a
value like ``a[$(touch /tmp/x)]`` runs a command, quoted or not. ``${!VAR}`` does the same.
Quoting the variable (what the shell type does with ``${{ }}``) cannot help there.

:func:`arithmetic_uses` finds where variables fed by expressions reach those places. It
reads the text with patterns, not a bash parser: it can miss a use hidden behind ``eval``
or a second variable, and it can flag a use bash would never reach; that is why the
finding is a warning, not an error.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, NamedTuple

from flowbuilder.expressions import EXPRESSION, ExpressionError, parse_references

if TYPE_CHECKING:
    from flowbuilder.interfaces import TaskWarning
    from flowbuilder.model import Task, Workflow

SHELLS = frozenset({"sh", "bash", "ksh", "mksh", "zsh"})
"""Shells that evaluate variables in arithmetic (``sh`` too: it is bash on many systems)."""

_ARITHMETIC_TESTS = re.compile(r"(?<![\w-])-(eq|ne|lt|le|gt|ge|v)(?![\w-])")
_SUBSCRIPT = re.compile(r"\$\{[#!]?[A-Za-z_][A-Za-z0-9_]*\[([^\]]*)\]|(?<![\w$])[A-Za-z_][A-Za-z0-9_]*\[([^\]]*)\]\+?=")
_COMMAND_ARGS = re.compile(
    r"(?:^|[;&|({\s])(let|(?:declare|local|typeset|readonly)\s+-[A-Za-z]*i[A-Za-z]*)\s+([^;&|\n]*)"
)
_ARITHMETIC_OPENERS = re.compile(r"\$\(\(|\$\[|\(\(")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDIRECT = re.compile(r"\$\{!([A-Za-z_][A-Za-z0-9_]*)")


class ArithmeticUse(NamedTuple):
    """A variable fed by an expression, reaching a place where bash evaluates it.

    A named tuple, not a dataclass: defining a frozen dataclass compiles its generated
    methods when the module is imported (about 0.5 ms, on every run with a shell task that
    an expression feeds); the tuple's class costs a fifth of that.
    """

    variable: str
    context: str
    """What evaluates it: ``$(( ))``, ``(( ))``, ``let``, ``an array subscript``, ``[[ ]]``..."""
    excerpt: str


def is_safe_expression(expression: str, params: Mapping[str, object]) -> bool:
    """Whether every name the expression reads is a param whose value cannot carry code:
    ``integer``, ``number`` or ``boolean`` (checked before the run), or ``string`` with
    ``choices`` (the workflow's author wrote every possible value)."""
    try:
        references = parse_references(expression)
    except ExpressionError:
        return False
    keyed_roots = {reference.root for reference in references if reference.key is not None}
    for reference in references:
        if reference.key is None and reference.root in keyed_roots:
            continue  # the root of `params.n`, reported on its own beside it
        param = params.get(reference.key or "") if reference.root == "params" else None
        if param is None:
            return False
        kind = getattr(param, "type", "string")
        if kind not in ("integer", "number", "boolean") and not (kind == "string" and getattr(param, "choices", None)):
            return False
    return True


def unsafe_expressions(text: str, params: Mapping[str, object]) -> list[str]:
    """The expressions in ``text`` whose value is not known to be safe (see above)."""
    return [m.group(1).strip() for m in EXPRESSION.finditer(text) if not is_safe_expression(m.group(1).strip(), params)]


def _uses(body: str, names: Iterable[str], bare: bool) -> Iterator[str]:
    """Names used in ``body`` as ``$NAME``/``${NAME}`` (and, where bash reads bare names, ``NAME``)."""
    for name in names:
        pattern = rf"\$\{{?{name}(?![A-Za-z0-9_])"
        if bare:
            pattern += rf"|(?<![A-Za-z0-9_$#]){name}(?![A-Za-z0-9_])"
        if re.search(pattern, body):
            yield name


def _balanced(text: str, start: int, opening: str, closing: str) -> int:
    """The index just past the ``closing`` that balances the ``opening`` at ``start`` (or len)."""
    depth = 0
    index = start
    while index < len(text):
        if text.startswith(opening, index):
            depth += 1
            index += len(opening)
        elif text.startswith(closing, index):
            depth -= 1
            index += len(closing)
            if depth == 0:
                return index
        else:
            index += 1
    return len(text)


def _arithmetic_bodies(text: str) -> Iterator[tuple[str, str]]:
    """``(context, text)`` of every ``$(( ))``, ``$[ ]`` and ``(( ))`` in a script."""
    index = 0
    while True:
        found = _ARITHMETIC_OPENERS.search(text, index)
        if found is None:
            return
        opener = found.group(0)
        if opener == "$[":
            end = _balanced(text, found.start() + 1, "[", "]")
            yield "$[ ]", text[found.start() : end]
        else:
            start = found.start() + (1 if opener == "$((" else 0)
            end = _balanced(text, start, "(", ")")
            yield ("$(( ))" if opener == "$((" else "(( ))"), text[found.start() : end]
        index = max(end, found.end())


def _double_brackets(text: str) -> Iterator[str]:
    index = 0
    while (start := text.find("[[", index)) != -1:
        end = text.find("]]", start + 2)
        end = len(text) if end == -1 else end + 2
        yield text[start:end]
        index = end


def arithmetic_uses(script: str, variables: Iterable[str]) -> list[ArithmeticUse]:
    """Where the ``variables`` reach arithmetic evaluation in ``script``, one finding per
    variable and context."""
    names = [name for name in dict.fromkeys(variables) if _IDENTIFIER.fullmatch(name)]
    if not names:
        return []
    found: dict[tuple[str, str], ArithmeticUse] = {}

    def add(context: str, excerpt: str, used: Iterable[str]) -> None:
        for name in used:
            shown = excerpt if len(excerpt) <= 60 else excerpt[:57] + "..."
            found.setdefault((name, context), ArithmeticUse(name, context, shown.strip()))

    for context, body in _arithmetic_bodies(script):
        add(context, body, _uses(body, names, bare=True))
    for match in _COMMAND_ARGS.finditer(script):
        add(match.group(1).split()[0], match.group(0), _uses(match.group(2), names, bare=match.group(1) == "let"))
    for match in _SUBSCRIPT.finditer(script):
        subscript = match.group(1) if match.group(1) is not None else match.group(2)
        add("an array subscript", match.group(0), _uses(subscript, names, bare=True))
    for test in _double_brackets(script):
        if _ARITHMETIC_TESTS.search(test):
            add("[[ ]] with an arithmetic test", test, _uses(test, names, bare=False))
    for match in _INDIRECT.finditer(script):
        add("${!VAR} indirection", match.group(0) + "}", _uses("$" + match.group(1), names, bare=False))
    return list(found.values())


def lint_script(
    script: str, where: tuple[str | int, ...], task: Task, workflow: Workflow, *, inline: bool
) -> list[TaskWarning]:
    """Warnings for a bash ``script`` (a shell ``command``, or a bash ``script``'s code).

    Variables fed by expressions: the workflow's, the task's and the config's ``env``
    entries that hold an unsafe expression and, with ``inline``, the ``${{ }}`` of the text
    itself (which the shell type turns into ``"$FLOWBUILDER_VALUE_<n>"``).
    """
    from flowbuilder.interfaces import TaskWarning
    from flowrunner.tasktypes.shell import VALUE_PREFIX

    params = workflow.params
    origins: dict[str, str] = {}
    config_env = task.config.get("env")
    for env in (workflow.env, task.env, config_env if isinstance(config_env, dict) else {}):
        for name, value in env.items():
            if isinstance(value, str) and unsafe_expressions(value, params):
                origins[str(name)] = f"`${name}` (env {name}: {value!r})"
    shown_inline: dict[str, str] = {}
    if inline and "${{" in script:
        count = 0

        def to_variable(match: re.Match[str]) -> str:
            nonlocal count
            count += 1
            name = f"{VALUE_PREFIX}{count}"
            expression = match.group(1).strip()
            shown_inline[f'"${name}"'] = match.group(0)
            if not is_safe_expression(expression, params):
                origins[name] = f"`{match.group(0)}`"
            return f'"${name}"'

        script = EXPRESSION.sub(to_variable, script)
    warnings = []
    for use in arithmetic_uses(script, origins):
        excerpt = use.excerpt
        for variable, original in shown_inline.items():
            excerpt = excerpt.replace(variable, original)
        warnings.append(
            TaskWarning(
                where,
                f"{origins[use.variable]} reaches {use.context} in `{excerpt}`: bash evaluates the value as"
                " code there, so a value like a[$(cmd)] runs cmd",
                "declare the param `type: integer` (checked before the run, it cannot carry code),"
                " or check the value first, e.g. [[ $N =~ ^-?[0-9]+$ ]] || exit 2",
            )
        )
    return warnings
