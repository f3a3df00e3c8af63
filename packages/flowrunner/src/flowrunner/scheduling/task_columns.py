"""The task fields every run reads for every task, read from the task models once per workflow.

A run's set-up looks at ten fields of each task (its type, ``run_if``, ``when``, time limits,
lock, priority, ``foreach``, ``env``, named ``outputs``, pool). Read from the task models,
each read is an attribute lookup on a pydantic object somewhere in a large heap: about
0.1 µs per field and task once the plan is no longer in the CPU's caches, about 1 µs per task
and run in all (bench/storage_fanout.py). A plan is compiled once and run many times, and it
is immutable (:class:`~flowbuilder.plan.ExecutionPlan`; the workflow and task models are
frozen), so the fields are read once per workflow into flat lists (one per field) and every
later run reads those.

The lists are kept while the workflow object lives (a weak reference forgets them with it)
and read again if its ``tasks`` list changed length. They are never written: a run copies
what it changes; a field with one value for every task shares its list with the other
fields of that value.
"""

from __future__ import annotations

import weakref
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence, TypeVar

if TYPE_CHECKING:
    from flowbuilder.model import Workflow


class TaskColumns(NamedTuple):
    """One list per field, indexed by task id (the plan's dense ids).

    A named tuple, not a frozen dataclass: defining a dataclass compiles its generated
    methods when the module is imported (about 0.5 ms on every run's first import), the
    tuple's class a fifth of that; it is as immutable, and read the same way.
    """

    tasks: Sequence[Any]
    """The ``workflow.tasks`` list they were read from (the guard against a list that changed)."""
    type: Sequence[str]
    run_if: Sequence[str]
    when: Sequence[str | None]
    timeout: Sequence[float | None]
    deadline: Sequence[float | None]
    lock: Sequence[Any]
    priority: Sequence[float | None]
    foreach: Sequence[Any]
    env: Sequence[Any]
    outputs: Sequence[Any]
    pool: Sequence[str | None]


_FIELDS = ("type", "run_if", "when", "timeout", "deadline", "lock", "priority", "foreach", "env", "outputs", "pool")
_READERS = tuple(map(attrgetter, _FIELDS))

_KEPT: dict[int, tuple[weakref.ref[Any], TaskColumns]] = {}
"""id(workflow) -> (a weak reference to it, its columns)."""


def task_columns(workflow: Workflow) -> TaskColumns:
    """The columns of ``workflow``'s tasks: read now on first use, else the kept ones."""
    tasks = workflow.tasks
    key = id(workflow)
    kept = _KEPT.get(key)
    if kept is not None:
        reference, columns = kept
        if reference() is workflow and columns.tasks is tasks and len(columns.type) == len(tasks):
            return columns
    columns = TaskColumns(tasks, *_shared_when_uniform([list(map(read, tasks)) for read in _READERS]))
    try:
        reference = weakref.ref(workflow, partial(_forget, key))
    except TypeError:  # an object that cannot be referenced weakly: read again next time
        return columns
    _KEPT[key] = (reference, columns)
    return columns


_T = TypeVar("_T")


def mapped(lookup: Callable[[Any], _T], column: Sequence[Any]) -> list[_T]:
    """``list(map(lookup, column))``, a new list per call (a run may change its copy).

    Most columns hold one value for every task (:func:`_shared_when_uniform`); for those
    ``lookup`` is asked once and its answer repeated, at C speed (``list.count``, about 1 ns
    per task), instead of once per task (a dict lookup, about 15 ns per task and run).
    """
    count = len(column)
    if count and column.count(column[0]) == count:
        return [lookup(column[0])] * count
    return list(map(lookup, column))


def _shared_when_uniform(lists: list[list[Any]]) -> list[list[Any]]:
    """``lists``, where those whose entries are all equal to one value share one list per value.

    Most fields are the same for every task of a workflow (None, ``all_succeeded``, one type),
    and the lists are kept as long as the workflow: seven all-None lists of 100,000 entries
    would be 5.6 MB kept for nothing. Sharing is safe because the lists are never written.
    """
    uniform: list[list[Any]] = []
    shared = []
    for values in lists:
        if values:
            first = values[0]
            if values.count(first) == len(values):
                # A plain loop, not next() over a generator: a generator per field was most of
                # this function's time for a small workflow, read once per new definition (issue 10).
                for kept in uniform:
                    if type(kept[0]) is type(first) and kept[0] == first:
                        values = kept
                        break
                else:
                    uniform.append(values)
        shared.append(values)
    return shared


def _forget(key: int, reference: weakref.ref[Any]) -> None:
    """The workflow is gone: drop its columns (unless its id was already reused by another)."""
    kept = _KEPT.get(key)
    if kept is not None and kept[0] is reference:
        del _KEPT[key]
