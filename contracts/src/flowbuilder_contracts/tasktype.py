"""The TaskType contract: what every :class:`flowbuilder.interfaces.TaskType` must do.

Subclass :class:`TaskTypeContract` and give it three fixtures::

    import pytest
    from flowbuilder_contracts import TaskTypeContract

    class TestChecksum(TaskTypeContract):
        @pytest.fixture
        def task_type(self):
            return Checksum()

        @pytest.fixture
        def valid_config(self, tmp_path):
            (tmp_path / "f.txt").write_text("hello")
            return {"paths": [str(tmp_path / "f.txt")]}

        @pytest.fixture
        def invalid_config(self):
            return {"paths": "not-a-list", "algorithm": "rot13"}

``valid_config`` must be a config that runs successfully here (the contract executes it);
``invalid_config`` one that the type's ``config_model`` rejects.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from flowbuilder.interfaces.tasktype import ExecutionMode, TaskContext, TaskFailure, TaskType
from flowbuilder.model import NAME_PATTERN
from flowbuilder_contracts._audit import Contract, audit_implementation

RUN_TIMEOUT = 30.0
"""Seconds a single attempt of ``valid_config`` may take in the contract before it fails."""


def execute(task_type: TaskType, config: BaseModel, context: TaskContext, timeout: float = RUN_TIMEOUT) -> Any:
    """Run one attempt the way a runner would: call ``run`` and await it if it is awaitable."""

    async def attempt() -> Any:
        result = task_type.run(config, context)
        if inspect.isawaitable(result):
            result = await result
        return result

    return asyncio.run(asyncio.wait_for(attempt(), timeout))


class TaskTypeContract(Contract):
    """Abstract tests for a TaskType; provide ``task_type``, ``valid_config`` and ``invalid_config``."""

    __contract__ = True

    @pytest.fixture
    def task_type(self) -> TaskType:
        raise NotImplementedError("a TaskTypeContract subclass must define a `task_type` fixture")

    @pytest.fixture
    def valid_config(self) -> dict[str, Any]:
        raise NotImplementedError("a TaskTypeContract subclass must define a `valid_config` fixture")

    @pytest.fixture
    def invalid_config(self) -> dict[str, Any]:
        raise NotImplementedError("a TaskTypeContract subclass must define an `invalid_config` fixture")

    def _context(self, attempt: int = 1) -> TaskContext:
        return TaskContext(run_id="contract-run", task="contract_task", attempt=attempt)

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_a_task_type(self, task_type: TaskType) -> None:
        assert isinstance(task_type, TaskType)

    def test_has_a_name_usable_as_a_type(self, task_type: TaskType) -> None:
        name = type(task_type).name
        assert isinstance(name, str) and name
        assert re.fullmatch(NAME_PATTERN, name), f"{name!r} does not match {NAME_PATTERN}"  # `$` alone lets "x\n" by

    def test_config_model_is_a_pydantic_model(self, task_type: TaskType) -> None:
        assert isinstance(task_type.config_model, type) and issubclass(task_type.config_model, BaseModel)

    def test_config_model_accepts_the_valid_config(self, task_type: TaskType, valid_config: dict[str, Any]) -> None:
        assert isinstance(task_type.config_model.model_validate(valid_config), task_type.config_model)

    def test_config_model_rejects_the_invalid_config(self, task_type: TaskType, invalid_config: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            task_type.config_model.model_validate(invalid_config)

    def test_config_model_exports_a_json_schema(self, task_type: TaskType) -> None:
        schema = task_type.config_model.model_json_schema()
        assert isinstance(schema, dict) and schema.get("type") == "object"
        json.dumps(schema)

    def test_execution_mode_is_an_execution_mode(self, task_type: TaskType, valid_config: dict[str, Any]) -> None:
        config = task_type.config_model.model_validate(valid_config)
        assert isinstance(task_type.execution_mode(config), ExecutionMode)

    def test_estimate_duration_is_none_or_a_non_negative_number(
        self, task_type: TaskType, valid_config: dict[str, Any]
    ) -> None:
        estimate = task_type.estimate_duration(task_type.config_model.model_validate(valid_config))
        assert estimate is None or (isinstance(estimate, (int, float)) and estimate >= 0)

    def test_from_settings_builds_an_instance_of_the_type(self, task_type: TaskType) -> None:
        from flowbuilder.config import Settings

        assert isinstance(type(task_type).from_settings(Settings()), type(task_type))

    def test_lint_of_the_valid_config_yields_task_warnings_inside_the_task(
        self, task_type: TaskType, valid_config: dict[str, Any]
    ) -> None:
        from flowbuilder.interfaces import TaskWarning
        from flowbuilder.model import Task, Workflow

        task = Task(name="checked", type=task_type.name, config=valid_config)
        for warning in task_type.lint(task, Workflow(name="lint-contract", tasks=[task])):
            assert isinstance(warning, TaskWarning) and warning.path and warning.message

    def test_why_not_stoppable_is_none_or_a_reason(self, task_type: TaskType, valid_config: dict[str, Any]) -> None:
        """A timeout is refused only with a reason a user can read (None: a cancel stops the attempt)."""
        reason = task_type.why_not_stoppable(task_type.config_model.model_validate(valid_config))
        assert reason is None or (isinstance(reason, str) and reason.strip())

    def test_running_the_valid_config_returns_json_serialisable_output(
        self, task_type: TaskType, valid_config: dict[str, Any]
    ) -> None:
        config = task_type.config_model.model_validate(valid_config)
        try:
            output = execute(task_type, config, self._context())
        except TaskFailure as failure:  # an understood failure is a valid outcome; its output must serialise
            json.dumps(failure.output)
            assert str(failure)
            return
        json.dumps(output)

    def test_instances_keep_no_per_task_state(self, task_type: TaskType, valid_config: dict[str, Any]) -> None:
        config = task_type.config_model.model_validate(valid_config)
        outcomes = []
        for attempt in (1, 2):
            try:
                outcomes.append(("ok", type(execute(task_type, config, self._context(attempt)))))
            except TaskFailure:
                outcomes.append(("failed", TaskFailure))
        assert outcomes[0] == outcomes[1]

    def test_context_free_call_is_none_or_does_what_run_does(
        self, task_type: TaskType, valid_config: dict[str, Any]
    ) -> None:
        """A runner calls ``context_free_call(config)``'s result instead of ``run`` for inline
        and async attempts: it must be None or a zero-argument call, and for an INLINE config
        its outcome (output, or the kind of failure) is ``run``'s; for an ASYNC config, once
        what it returns is awaited."""
        config = task_type.config_model.model_validate(valid_config)
        call = task_type.context_free_call(config)
        if call is None:
            return
        assert callable(call)
        mode = task_type.execution_mode(config)
        if mode not in (ExecutionMode.INLINE, ExecutionMode.ASYNC):
            return  # never used: other modes always get a context

        def outcome(attempt: Any) -> tuple[str, Any]:
            try:
                return "ok", attempt()
            except TaskFailure as failure:
                return "failed", type(failure)

        async def awaited() -> Any:
            result = call()
            return await result if inspect.isawaitable(result) else result

        made = call if mode is ExecutionMode.INLINE else lambda: asyncio.run(asyncio.wait_for(awaited(), RUN_TIMEOUT))
        assert outcome(made) == outcome(lambda: execute(task_type, config, self._context()))

    def test_default_concurrency_is_none_or_a_non_negative_int(self, task_type: TaskType) -> None:
        """A runner caps the attempts of the type at once at this (None or 0: no cap of its own)."""
        limit = task_type.default_concurrency
        assert limit is None or (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0)

    def test_render_config_of_a_config_without_expressions_validates_as_the_config(
        self, task_type: TaskType, valid_config: dict[str, Any]
    ) -> None:
        """A runner renders every attempt's config through ``render_config`` (expressions only)."""
        scope: dict[str, Any] = {"params": {}, "tasks": {}, "env": {}, "secrets": {}}
        rendered = task_type.render_config(valid_config, scope)
        expected = task_type.config_model.model_validate(valid_config)
        assert task_type.config_model.model_validate(rendered) == expected

    def test_warm_builds_the_config_model_starts_nothing_and_may_repeat(
        self, task_type: TaskType, valid_config: dict[str, Any]
    ) -> None:
        """``Engine.warm()`` calls ``warm`` of every type: after it the config model is built
        (a ``defer_build`` model is not before), no thread or process was started, and a
        second call changes nothing."""
        import multiprocessing
        import threading

        threads, children = threading.active_count(), len(multiprocessing.active_children())
        task_type.warm()
        task_type.warm()
        assert task_type.config_model.__pydantic_complete__, "warm() left the config model unbuilt"
        assert threading.active_count() <= threads and len(multiprocessing.active_children()) <= children
        assert isinstance(task_type.config_model.model_validate(valid_config), task_type.config_model)

    def test_configs_pickle_for_process_execution(self, task_type: TaskType, valid_config: dict[str, Any]) -> None:
        import pickle

        config = task_type.config_model.model_validate(valid_config)
        if task_type.execution_mode(config) is ExecutionMode.PROCESS:
            assert pickle.loads(pickle.dumps(config)) == config
            pickle.dumps(task_type)


__all__ = ["RUN_TIMEOUT", "TaskTypeContract", "execute"]
