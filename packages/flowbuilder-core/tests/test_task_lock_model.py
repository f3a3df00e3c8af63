"""``lock:`` in the DSL: a name or ``{name, ttl}``, on a task or in ``defaults``; bad ones are refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from flowbuilder.model import DEFAULT_LOCK_TTL, Task, TaskDefaults, workflow_json_schema


def test_a_name_is_a_lock_with_the_default_ttl() -> None:
    lock = Task(name="t", type="shell", lock="deploy-prod").lock
    assert lock is not None and (lock.name, lock.ttl) == ("deploy-prod", DEFAULT_LOCK_TTL)


def test_a_mapping_sets_the_ttl_as_a_duration() -> None:
    lock = TaskDefaults(lock={"name": "db/main:eu", "ttl": "2m"}).lock
    assert lock is not None and (lock.name, lock.ttl) == ("db/main:eu", 120.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("has space", "a lock name is"),
        ("-leading", "a lock name is"),
        ("x" * 201, "a lock name is"),
        ({"name": "x", "ttl": 0.5}, "greater than or equal to 1"),
        ({"name": "x", "ttl": "2d"}, "less than or equal to 86400"),
        ({"ttl": "3s"}, "name"),
        ({"name": "x", "other": 1}, "other"),
        (True, "lock must be a name"),
        (["a"], "lock must be a name"),
    ],
)
def test_a_bad_lock_is_refused_with_a_reason(value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Task(name="t", type="shell", lock=value)
    assert message in str(raised.value)


def test_the_json_schema_accepts_both_forms() -> None:
    schema = workflow_json_schema()
    task = schema["$defs"]["Task"]["properties"]["lock"]
    forms = task["anyOf"]
    assert forms[0]["type"] == "string"
    assert forms[1]["required"] == ["name"] and set(forms[1]["properties"]) == {"name", "ttl"}


def test_a_name_with_expressions_is_kept_for_the_run_to_render() -> None:
    lock = Task(name="t", type="shell", lock="deploy-${{ params.env }}").lock
    assert lock is not None and lock.name == "deploy-${{ params.env }}"
