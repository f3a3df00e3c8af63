"""flowrunner: FlowBuilder's local runner and its built-in task types.

Embedding FlowBuilder in an application::

    from flowrunner import run_workflow

    result = run_workflow("pipeline.yaml", params={"day": "2024-01-01"})
    print(result.status, result.output("count"))

See :mod:`flowrunner.api` for the asyncio flavour, many runs at once, event streams and
cancellation. Names are imported on first use, so loading the plugin (which every
``flowbuilder`` command does) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from flowrunner._version import __version__

if TYPE_CHECKING:
    from flowrunner.api import Engine, RunHandle, run_workflow, run_workflow_async, run_workflows
    from flowrunner.runner import LocalRunner
    from flowrunner.tasktypes import HttpTask, PythonTask, ScriptTask, ShellTask

_LAZY = {
    "Engine": "flowrunner.api",
    "RunHandle": "flowrunner.api",
    "run_workflow": "flowrunner.api",
    "run_workflow_async": "flowrunner.api",
    "run_workflows": "flowrunner.api",
    "LocalRunner": "flowrunner.runner",
    "HttpTask": "flowrunner.tasktypes",
    "PythonTask": "flowrunner.tasktypes",
    "ScriptTask": "flowrunner.tasktypes",
    "ShellTask": "flowrunner.tasktypes",
}

__all__ = [
    "Engine",
    "HttpTask",
    "LocalRunner",
    "PythonTask",
    "RunHandle",
    "ScriptTask",
    "ShellTask",
    "__version__",
    "run_workflow",
    "run_workflow_async",
    "run_workflows",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowrunner' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
