"""One validated config for the tasks of a workflow whose configs are equal.

A generated fan-out gives thousands of tasks the same config (``{callable: mod:fn}``), and
the compiler validated each into its own model: 80 bytes of model, a 184-byte ``__dict__``
and its values per task, 26 MB at 100,000 tasks (bench/memory.py). Validation is a pure
function of the task type and the raw config, so a task whose type and config equal an
earlier task's can take that task's validated model instead of a copy.

Only frozen config models are shared (the same rule as :mod:`flowbuilder._model_sharing`): a
mutable one could be changed through one task and seen through all. Only configs made of
plain YAML/JSON values are compared, by exact type, so ``1``, ``1.0`` and ``True`` (equal in
Python) or ``0.0`` and ``-0.0`` never share; anything else, and any config of more than 256
values, is validated on its own as before.
"""

from __future__ import annotations

from typing import Any, Hashable

from pydantic import BaseModel

__all__ = ["EqualConfigs"]

_MAX_KEPT = 256
"""Distinct configs remembered at once. Equal configs are usually neighbours (a generated
fan-out); a workflow whose every config differs must not pay a second copy of them all in
keys, so past this many the memory starts afresh."""
_MAX_VALUES = 256
"""Values (scalars, lists, dicts) a shared config may hold. A bigger one is validated on its
own: comparing it would cost about what validating it does, and its key as much memory."""


class _NotPlain(Exception):
    """A value other than str, int, float, bool, None, list or dict with str keys."""


def _frozen(value: Any, budget: list[int]) -> Hashable:
    """A hashable image of a plain value, with each scalar's exact type (``1`` is not ``True``).

    ``budget`` counts down the values looked at; past :data:`_MAX_VALUES` the config is not
    shared (its key would cost as much as the config, for every one kept).
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise _NotPlain
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return (kind, value)
    if kind is float:
        return (kind, value.hex())  # tells 0.0 from -0.0; a NaN equals its own image
    if kind is dict:
        items = []
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            items.append((key, _frozen(item, budget)))
        return (kind, tuple(items))
    if kind is list:
        return (kind, tuple([_frozen(item, budget) for item in value]))
    raise _NotPlain


class EqualConfigs:
    """What one compile validated, by task type and raw config (use for one workflow only)."""

    __slots__ = ("_kept", "_frozen_models")

    def __init__(self) -> None:
        self._kept: dict[Hashable, Any] = {}
        self._frozen_models: dict[type[BaseModel], bool] = {}

    def key(self, type_name: str, model: type[BaseModel], config: Any) -> Hashable | None:
        """The key of ``config`` for tasks of ``type_name``; None when it may not be shared."""
        frozen = self._frozen_models.get(model)
        if frozen is None:
            frozen = self._frozen_models[model] = bool(model.model_config.get("frozen"))
        if not frozen:
            return None
        try:
            return (type_name, _frozen(config, [_MAX_VALUES]))
        except _NotPlain:
            return None

    def get(self, key: Hashable) -> Any | None:
        """The validated config kept under ``key``, or None."""
        return self._kept.get(key)

    def keep(self, key: Hashable, validated: Any) -> None:
        """Remember ``validated`` (a model that passed validation) for later equal configs."""
        kept = self._kept
        if len(kept) >= _MAX_KEPT:
            kept.clear()
        kept[key] = validated
