"""The built-in task types: ``shell``, ``http``, ``script``, ``python``, ``workflow``, and the waiting ``approval`` and ``wait``.

Each lives in its own module and is imported on first use of its name here (or of
:data:`BUILTIN_TASK_TYPES`, which imports all seven): with core's plugin manifest a run
imports only the modules of the types its workflow uses (issue 10), so importing this
package must not import them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowbuilder.interfaces import TaskType
    from flowrunner.tasktypes.approval import ApprovalConfig, ApprovalTask
    from flowrunner.tasktypes.http import HttpConfig, HttpTask
    from flowrunner.tasktypes.python import PythonConfig, PythonTask
    from flowrunner.tasktypes.script import ScriptConfig, ScriptTask
    from flowrunner.tasktypes.shell import ShellConfig, ShellTask
    from flowrunner.tasktypes.wait import WaitConfig, WaitTask
    from flowrunner.tasktypes.workflow import WorkflowTask

    BUILTIN_TASK_TYPES: tuple[type[TaskType], ...]

_MODULES = {
    "ApprovalConfig": "approval",
    "ApprovalTask": "approval",
    "HttpConfig": "http",
    "HttpTask": "http",
    "PythonConfig": "python",
    "PythonTask": "python",
    "ScriptConfig": "script",
    "ScriptTask": "script",
    "ShellConfig": "shell",
    "ShellTask": "shell",
    "WaitConfig": "wait",
    "WaitTask": "wait",
    "WorkflowTask": "workflow",
}
_BUILTIN = ("ShellTask", "HttpTask", "ScriptTask", "PythonTask", "WorkflowTask", "ApprovalTask", "WaitTask")


def __getattr__(name: str) -> Any:
    if name == "BUILTIN_TASK_TYPES":
        value: Any = tuple(__getattr__(type_name) for type_name in _BUILTIN)
    elif name in _MODULES:
        value = getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "BUILTIN_TASK_TYPES",
    "ApprovalConfig",
    "ApprovalTask",
    "HttpConfig",
    "HttpTask",
    "PythonConfig",
    "PythonTask",
    "ScriptConfig",
    "ScriptTask",
    "ShellConfig",
    "ShellTask",
    "WaitConfig",
    "WaitTask",
    "WorkflowTask",
]
