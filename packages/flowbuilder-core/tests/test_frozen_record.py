"""``FrozenRecord`` means what ``@dataclass(frozen=True, slots=True)`` meant for the private
classes that moved to it (issue 10): repr, equality, hash, immutability, pickling."""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass

import pytest

from flowbuilder._entry_point_cache import CachedDistribution, CachedEntryPoint
from flowbuilder._frozen_record import FrozenRecord


class Pair(FrozenRecord):
    __slots__ = ("left", "right")
    left: int
    right: str | None

    def __init__(self, left: int, right: str | None = None) -> None:
        object.__setattr__(self, "left", left)
        object.__setattr__(self, "right", right)


@dataclass(frozen=True, slots=True)
class DataPair:
    left: int
    right: str | None = None


class OtherPair(Pair):
    __slots__ = ()


def test_repr_is_a_dataclass_s() -> None:
    assert repr(Pair(1, "a")) == repr(DataPair(1, "a")).replace("DataPair", "Pair") == "Pair(left=1, right='a')"


def test_equality_and_hash_follow_the_fields_of_the_same_class() -> None:
    assert Pair(1, "a") == Pair(1, "a") and hash(Pair(1, "a")) == hash(Pair(1, "a"))
    assert Pair(1, "a") != Pair(1, "b")
    assert Pair(1) != Pair(2)
    assert Pair(1, "a") != OtherPair(1, "a")  # as a dataclass: another class is never equal
    assert Pair(1, "a") != (1, "a")
    assert len({Pair(1), Pair(1), Pair(2)}) == 2


def test_fields_cannot_be_assigned_or_deleted() -> None:
    pair = Pair(1)
    with pytest.raises(AttributeError):
        pair.left = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del pair.left
    with pytest.raises(AttributeError):
        pair.extra = 1  # type: ignore[attr-defined]
    assert pair.left == 1


def test_pickles_and_copies() -> None:
    item = CachedEntryPoint("core", "flowbuilder.builtin_plugin", CachedDistribution({"Name": "flowbuilder-core"}, "1"))
    assert pickle.loads(pickle.dumps(item)) == item
    assert copy.copy(item) == item and copy.deepcopy(item) == item
    assert copy.deepcopy(Pair(3, "x")) == Pair(3, "x")


class Triple(Pair):
    __slots__ = ("extra",)
    extra: float

    def __init__(self, left: int, right: str | None, extra: float) -> None:
        super().__init__(left, right)
        object.__setattr__(self, "extra", extra)


def test_a_subclass_s_fields_follow_its_base_s() -> None:
    assert repr(Triple(1, "a", 2.0)) == "Triple(left=1, right='a', extra=2.0)"
    assert Triple(1, "a", 2.0) != Triple(1, "a", 3.0)
    assert Triple(1, "a", 2.0) != Pair(1, "a")
    assert OtherPair(1, "a") == OtherPair(1, "a") != OtherPair(1, "b")
    assert pickle.loads(pickle.dumps(Triple(1, None, 0.5))) == Triple(1, None, 0.5)
