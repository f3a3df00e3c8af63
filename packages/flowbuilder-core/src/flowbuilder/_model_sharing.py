"""Sharing the parts of frozen models that are equal from one instance to the next.

A 100,000-task workflow makes 100,000 ``Task`` models and 100,000 validated configs, and
pydantic gives each instance its own set of the fields that were given
(``__pydantic_fields_set__``, 216 bytes) and its own empty ``dict``/``list`` for every
field left at an empty default (``env``, ``outputs``, a ``python`` task's ``args`` and
``kwargs``: 56-64 bytes each). In a fan-out these are the same on every task, so a frozen
model can share them: :func:`share_model_parts` swaps them for one shared set per distinct
set of field names and for read-only empty containers. That took about 0.7 KB per task
(70 MB at 100,000 tasks) off the models (bench/memory.py).

Only frozen models are shared: pydantic adds to ``__pydantic_fields_set__`` when a field of a
mutable model is assigned, which would write into every model sharing the set. The shared
empty containers refuse mutation (``TypeError``) instead of changing every task at once;
code that wants a mutable copy makes one (``dict(task.env)``), as it should of a frozen
model's values anyway.
"""

from __future__ import annotations

from typing import Any, NoReturn

from pydantic import BaseModel

__all__ = ["EMPTY_DICT", "EMPTY_LIST", "share_model_parts"]


def _refuse(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"this empty {type(self).__mro__[1].__name__} is shared by frozen models; copy it to change it")


class SharedEmptyDict(dict[Any, Any]):
    """The empty ``dict`` that frozen models share for fields left empty; it cannot be changed."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, ())  # a copy (pickle, deepcopy) is an ordinary empty dict


class SharedEmptyList(list[Any]):
    """The empty ``list`` that frozen models share for fields left empty; it cannot be changed."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, ())


EMPTY_DICT = SharedEmptyDict()
EMPTY_LIST = SharedEmptyList()

_FIELD_SETS: dict[frozenset[str], set[str]] = {}
"""One shared set per distinct set of given field names (few: the DSL has few fields)."""
_MAX_FIELD_SETS = 4096
"""Beyond this many distinct sets (only a plugin with huge config models could reach it),
new ones are left unshared rather than kept for ever."""
_CONTAINER_FIELDS: dict[type[BaseModel], tuple[str, ...] | None] = {}
"""Per model class, its fields whose values may be an empty dict or list; None: not frozen."""
_set_fields_set = object.__setattr__


def _container_fields(cls: type[BaseModel]) -> tuple[str, ...] | None:
    if not cls.model_config.get("frozen"):
        names = None
    else:
        names = tuple(
            name
            for name, info in cls.model_fields.items()
            if info.default_factory in (dict, list) or (type(info.default) in (dict, list) and not info.default)
        )
    _CONTAINER_FIELDS[cls] = names
    return names


def share_model_parts(model: BaseModel) -> None:
    """Make a frozen ``model`` share its fields-set and its empty dict/list values.

    Nothing visible changes: the set holds the same names, and an empty value is still an
    empty ``dict``/``list`` (equal to ``{}``/``[]``, dumped the same). A model that is not
    frozen is left as it is. Called once per task (twice: its model and its config), so it
    is kept to a few dict look-ups.
    """
    cls = type(model)
    names = _CONTAINER_FIELDS.get(cls, ()) or (_container_fields(cls) if cls not in _CONTAINER_FIELDS else None)
    if names is None:
        return
    given = model.__pydantic_fields_set__
    key = frozenset(given)
    shared = _FIELD_SETS.get(key)
    if shared is None and len(_FIELD_SETS) < _MAX_FIELD_SETS:
        shared = _FIELD_SETS[key] = set(given)
    if shared is not None:
        _set_fields_set(model, "__pydantic_fields_set__", shared)
    if names:
        values = model.__dict__
        for name in names:
            value = values[name]
            if not value:
                kind = type(value)
                if kind is dict:
                    values[name] = EMPTY_DICT
                elif kind is list:
                    values[name] = EMPTY_LIST
