"""The names a task's ``${{ }}`` expressions see at run time, and the run's rendered env.

Built only for tasks that hold expressions (``plan.expression_tasks``), so plain tasks pay
nothing. ``tasks`` is a read-only view over the scheduler's flat lists: building a dict of
every task for every expression task would make a wide workflow quadratic.

The workflow's ``env`` may read only ``params`` (the compiler refuses task results there),
so it is rendered once per run, before any task starts, and every task shares the result:
a plain task (one with no expression of its own) then gets the rendered values too.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

from flowbuilder.expressions import ExpressionError, as_text, reads_as_plain_mapping, render


def render_workflow_env(
    env: Mapping[str, str],
    params: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    run: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The workflow-level ``env`` with its expressions evaluated against the run's params.

    Raises :class:`ExpressionError` naming the variable when an expression fails, so the run
    stops before any task starts instead of every task seeing the literal text.
    """
    if not any("${{" in value for value in env.values()):
        return dict(env)
    scope = {"params": params, "env": {}, "secrets": secrets or {}, "run": run or {}}
    rendered = {}
    for key, value in env.items():
        try:
            rendered[key] = as_text(render(value, scope))
        except ExpressionError as error:
            raise ExpressionError(f"workflow env {key}: {error}") from None
    return rendered


@reads_as_plain_mapping  # so `${{ tasks.a.output }}` is read without Jinja2 (slots, no side effects)
class TaskResultsView(Mapping[str, Mapping[str, Any]]):
    """``tasks.<name>`` → ``{"output", "outputs", "status"}`` read from the run's state."""

    __slots__ = ("_index", "_lookup")

    def __init__(self, index: Mapping[str, int], lookup: Callable[[int], Mapping[str, Any]]):
        self._index = index
        self._lookup = lookup

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        return self._lookup(self._index[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)
