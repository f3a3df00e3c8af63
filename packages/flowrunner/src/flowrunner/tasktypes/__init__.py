"""The built-in task types: ``shell``, ``http``, ``script``, ``python`` and ``workflow``."""

from flowrunner.tasktypes.http import HttpConfig, HttpTask
from flowrunner.tasktypes.python import PythonConfig, PythonTask
from flowrunner.tasktypes.script import ScriptConfig, ScriptTask
from flowrunner.tasktypes.shell import ShellConfig, ShellTask
from flowrunner.tasktypes.workflow import WorkflowTask

BUILTIN_TASK_TYPES = (ShellTask, HttpTask, ScriptTask, PythonTask, WorkflowTask)

__all__ = [
    "BUILTIN_TASK_TYPES",
    "HttpConfig",
    "HttpTask",
    "PythonConfig",
    "PythonTask",
    "ScriptConfig",
    "ScriptTask",
    "ShellConfig",
    "ShellTask",
    "WorkflowTask",
]
