"""A base for core's small internal value classes, cheaper to define than a dataclass.

``@dataclass(frozen=True, slots=True)`` writes the source of ``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` and compiles each with
``exec`` when its module is imported, then builds the class a second time for the slots:
about 0.4 ms of CPU per class on the 2-core VM, paid by every command that
imports the module. ``flowbuilder run`` of hello defined about 55 of core's and the plugins'
dataclasses that way. A class deriving from :class:`FrozenRecord` lists its fields in
``__slots__`` and writes its own typed ``__init__`` (setting each field once through
``object.__setattr__``); the rest comes from here, with a dataclass's meaning: the repr
``Name(field=value, ...)``, equality and hash over the fields in order between instances of
the same class, no assignment after ``__init__``, and pickling and copying (as a call of
the class with the fields in order, so ``__init__`` must take them in ``__slots__`` order,
a base class's first).

Only for core's private classes: a public type stays a dataclass, since users may pass it to
``dataclasses.replace``, ``fields`` or ``asdict``.
"""

from __future__ import annotations

from typing import Any, NoReturn


class FrozenRecord:
    """Fields in ``__slots__``; repr, equality, hash and immutability as a frozen dataclass's."""

    __slots__: tuple[str, ...] = ()
    _fields: tuple[str, ...] = ()
    """Every field, a base class's first (each class's ``__slots__`` lists only its own)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = tuple(name for klass in reversed(cls.__mro__) for name in vars(klass).get("__slots__", ()))

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrozenRecord) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[type[FrozenRecord], tuple[Any, ...]]:
        """Pickled and copied as a call of the class with the fields in order (``__init__``'s order)."""
        return type(self), self._values()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"cannot assign to field {name!r} of a {type(self).__name__}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cannot delete field {name!r} of a {type(self).__name__}")
