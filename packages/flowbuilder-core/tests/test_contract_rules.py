"""The contract suites enforce the rules docs/plugins.md states: a test of a suite, run against
an implementation that breaks one rule, must fail."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from flowbuilder.interfaces import TaskContext, TaskType
from flowbuilder_contracts import TaskTypeContract


def task_type_named(type_name: str) -> TaskType:
    class Config(BaseModel):
        pass

    class Named(TaskType):
        name = type_name
        config_model = Config

        def run(self, config: Any, context: TaskContext) -> Any:
            return None

    return Named()


@pytest.mark.parametrize("name", ["checksum", "1000genome", "a_b-c", "x" * 128])
def test_the_task_type_contract_accepts_names_of_the_documented_pattern(name: str) -> None:
    TaskTypeContract.test_has_a_name_usable_as_a_type(TaskTypeContract(), task_type_named(name))


@pytest.mark.parametrize("name", ["shell\n", "two words", "-lead", "x" * 129, "ünï"])
def test_the_task_type_contract_refuses_names_outside_the_documented_pattern(name: str) -> None:
    with pytest.raises(AssertionError):
        TaskTypeContract.test_has_a_name_usable_as_a_type(TaskTypeContract(), task_type_named(name))
