"""The names a task's ``${{ }}`` expressions see at run time.

Built only for tasks that hold expressions (``plan.expression_tasks``), so plain tasks pay
nothing. ``tasks`` is a read-only view over the scheduler's flat lists: building a dict of
every task for every expression task would make a wide workflow quadratic.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping


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
