"""Frozen models share what is equal between instances, invisibly (flowbuilder._model_sharing)."""

from __future__ import annotations

import copy
import pickle

import pytest
from pydantic import BaseModel, ConfigDict, Field

from flowbuilder._model_sharing import EMPTY_DICT, EMPTY_LIST, share_model_parts
from flowbuilder.model import Task, Workflow


def two_tasks() -> tuple[Task, Task]:
    workflow = Workflow.model_validate({"name": "w", "tasks": [
        {"name": "a", "type": "shell", "config": {"command": "x"}},
        {"name": "b", "type": "shell", "config": {"command": "y"}},
    ]})  # fmt: skip
    return workflow.tasks[0], workflow.tasks[1]


def test_tasks_given_the_same_fields_share_one_fields_set_and_the_empty_env_and_outputs() -> None:
    first, second = two_tasks()
    assert first.model_fields_set == {"name", "type", "config"}
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert first.env is EMPTY_DICT and second.outputs is EMPTY_DICT and first.env == {}


def test_a_task_with_its_own_env_keeps_it() -> None:
    task = Task.model_validate({"name": "a", "type": "shell", "env": {"K": "v"}})
    assert task.env == {"K": "v"} and task.env is not EMPTY_DICT


def test_a_shared_empty_value_refuses_to_change_rather_than_change_every_task() -> None:
    first, second = two_tasks()
    with pytest.raises(TypeError, match="shared by frozen models"):
        first.env["K"] = "v"
    with pytest.raises(TypeError):
        first.outputs.update(k="v")
    with pytest.raises(TypeError):
        EMPTY_LIST.append(1)
    assert second.env == {} and EMPTY_LIST == []


def test_sharing_changes_nothing_a_caller_sees() -> None:
    first, _ = two_tasks()
    fresh = Task.model_construct(**{**first.__dict__, "env": {}, "outputs": {}})
    assert first.model_dump() == fresh.model_dump()
    assert first.model_dump_json(exclude_defaults=True) == '{"name":"a","type":"shell","config":{"command":"x"}}'
    for copied in (copy.deepcopy(first.env), pickle.loads(pickle.dumps(first.env)), copy.copy(EMPTY_LIST)):
        assert type(copied) in (dict, list) and not copied  # a copy is an ordinary, changeable value
    changed = first.model_copy(update={"name": "z"})
    assert changed.model_fields_set >= {"name"} and first.model_fields_set == {"name", "type", "config"}


class Mutable(BaseModel):
    items: list[int] = Field(default_factory=list)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[int] = Field(default_factory=list)
    mapping: dict[str, int] = {}


def test_a_model_that_is_not_frozen_is_left_as_it_is() -> None:
    model = Mutable()
    share_model_parts(model)
    model.items.append(1)  # its own list, still
    assert model.items == [1] and Mutable().items == []


def test_a_frozen_plugin_model_shares_its_empty_defaults() -> None:
    model = Frozen()
    share_model_parts(model)
    assert model.items is EMPTY_LIST and model.mapping is EMPTY_DICT
