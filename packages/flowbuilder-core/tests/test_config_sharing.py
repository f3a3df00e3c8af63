"""Tasks whose type and config are equal share one validated config (flowbuilder._config_sharing).

Sharing must change nothing a task sees: each task's validated config holds exactly what
its own validation would have given (``1``, ``True`` and ``1.0`` stay apart, as do ``0.0``
and ``-0.0``), a mutable config model is never shared, and an invalid config is reported at
every task that has it.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from flowbuilder.compiler import compile_workflow
from flowbuilder.errors import WorkflowError
from flowbuilder.interfaces import TaskContext, TaskType
from flowbuilder.model import Workflow


class FrozenConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: bool | int | float | str | None = None
    items: list[Any] = []


class MutableConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int = 0


class FrozenType(TaskType):
    name = "frozen"
    config_model = FrozenConfig

    def run(self, config: Any, context: TaskContext) -> None:
        return None


class MutableType(TaskType):
    name = "mutable"
    config_model = MutableConfig

    def run(self, config: Any, context: TaskContext) -> None:
        return None


TYPES: Any = {"frozen": FrozenType(), "mutable": MutableType()}


def configs_of(*tasks: tuple[str, dict[str, Any]]) -> list[Any]:
    workflow = Workflow.model_validate({"name": "w", "tasks": [
        {"name": f"t{i}", "type": kind, "config": config} for i, (kind, config) in enumerate(tasks)]})  # fmt: skip
    return list(compile_workflow(workflow, TYPES).configs)


def test_equal_configs_share_one_validated_model_and_different_ones_do_not() -> None:
    first, second, other, again = configs_of(("frozen", {"value": "a", "items": [1, {"k": None}]}),
                                             ("frozen", {"value": "a", "items": [1, {"k": None}]}),
                                             ("frozen", {"value": "b"}), ("frozen", {"value": "a", "items": [1, {"k": None}]}))  # fmt: skip
    assert first is second is again
    assert other is not first and other.value == "b"
    assert first.items == [1, {"k": None}]


@pytest.mark.parametrize("values", [(1, True, 1.0), (0.0, -0.0, 0), (None, 0, False), ("1", 1, 1.5)])
def test_values_python_calls_equal_but_of_other_types_or_signs_are_validated_on_their_own(
    values: tuple[Any, ...],
) -> None:
    configs = configs_of(*[("frozen", {"value": value}) for value in values])
    assert len({id(config) for config in configs}) == len(values)
    for config, value in zip(configs, values, strict=True):
        assert type(config.value) is type(value) and repr(config.value) == repr(value)


def test_a_mutable_config_model_is_never_shared() -> None:
    first, second = configs_of(("mutable", {"value": 1}), ("mutable", {"value": 1}))
    assert first is not second and first == second
    first.value = 2
    assert second.value == 1


def test_the_same_config_under_two_task_types_is_validated_by_each() -> None:
    frozen, mutable = configs_of(("frozen", {"value": 1}), ("mutable", {"value": 1}))
    assert type(frozen) is FrozenConfig and type(mutable) is MutableConfig


def test_an_invalid_config_is_reported_at_every_task_that_has_it() -> None:
    from flowbuilder.loader import load_workflow

    source = load_workflow("name: w\ntasks:\n"
                           "  - {name: a, type: frozen, config: {value: x}}\n"
                           "  - {name: b, type: frozen, config: {nope: 1}}\n"
                           "  - {name: c, type: frozen, config: {nope: 1}}\n"
                           "  - {name: d, type: frozen, config: {value: x}}\n", filename="w.yaml")  # fmt: skip
    with pytest.raises(WorkflowError) as raised:
        compile_workflow(source.workflow, TYPES, locator=source.locator)
    lines = [diagnostic.line for diagnostic in raised.value.diagnostics if "nope" in diagnostic.message]
    assert lines == [4, 5], raised.value.diagnostics


def test_many_distinct_configs_each_keep_their_own_values() -> None:
    configs = configs_of(*[("frozen", {"value": i % 300}) for i in range(900)])
    assert [config.value for config in configs] == [i % 300 for i in range(900)]
    assert configs[0] is configs[300] or configs[0] == configs[300]


def test_a_big_config_is_validated_on_its_own_rather_than_compared() -> None:
    small, small_again = configs_of(("frozen", {"items": list(range(200))}), ("frozen", {"items": list(range(200))}))
    big, big_again = configs_of(("frozen", {"items": list(range(300))}), ("frozen", {"items": list(range(300))}))
    assert small is small_again
    assert big is not big_again and big == big_again and big.items == list(range(300))


def test_a_deeply_nested_config_stops_the_comparison_at_its_budget() -> None:
    nested: Any = None
    for _ in range(300):
        nested = [nested]
    first, second = configs_of(("frozen", {"items": [nested]}), ("frozen", {"items": [nested]}))
    assert first is not second and first.items == second.items
