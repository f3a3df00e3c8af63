"""flowrunner's runner and task types against the shared contract suites in contracts/."""

from __future__ import annotations

from typing import Any

import pytest

from flowbuilder_contracts import RunnerContract, TaskTypeContract
from flowrunner import HttpTask, LocalRunner, PythonTask, ScriptTask, ShellTask


class TestLocalRunnerContract(RunnerContract):
    @pytest.fixture
    def make_runner(self) -> Any:
        return lambda task_types: LocalRunner(task_types=task_types)


class TestShellTaskContract(TaskTypeContract):
    @pytest.fixture
    def task_type(self) -> ShellTask:
        return ShellTask()

    @pytest.fixture
    def valid_config(self) -> dict[str, Any]:
        return {"command": "echo '{\"ok\": true}'"}

    @pytest.fixture
    def invalid_config(self) -> dict[str, Any]:
        return {"command": "true", "sucess_codes": [0]}


class TestScriptTaskContract(TaskTypeContract):
    @pytest.fixture
    def task_type(self) -> ScriptTask:
        return ScriptTask()

    @pytest.fixture
    def valid_config(self) -> dict[str, Any]:
        return {"language": "python", "code": "import json\nprint(json.dumps({'input': input_data}))"}

    @pytest.fixture
    def invalid_config(self) -> dict[str, Any]:
        return {"language": "ruby", "code": "puts 1"}


class TestPythonTaskContract(TaskTypeContract):
    @pytest.fixture
    def task_type(self) -> PythonTask:
        return PythonTask()

    @pytest.fixture
    def valid_config(self) -> dict[str, Any]:
        return {"callable": "json:dumps", "args": [[1, 2]]}

    @pytest.fixture
    def invalid_config(self) -> dict[str, Any]:
        return {"callable": "not a path", "isolation": "cloud"}


class TestAsyncPythonTaskContract(TestPythonTaskContract):
    """An ``async def`` function: its context-free call is awaited by the runner (ASYNC)."""

    @pytest.fixture
    def valid_config(self) -> dict[str, Any]:
        return {"callable": "flowrunner_sample_callables:async_double", "args": [4]}


class TestHttpTaskContract(TaskTypeContract):
    @pytest.fixture
    def task_type(self) -> HttpTask:
        return HttpTask()

    @pytest.fixture
    def valid_config(self, http_server: str) -> dict[str, Any]:
        return {"url": f"{http_server}/data", "timeout": 5}

    @pytest.fixture
    def invalid_config(self) -> dict[str, Any]:
        return {"url": "ftp://example.org", "method": "FETCH"}
