"""The built-in task types: ``shell``, ``http``, ``script`` and ``python``."""

from flowrunner.tasktypes.http import HttpConfig, HttpTask
from flowrunner.tasktypes.python import PythonConfig, PythonTask
from flowrunner.tasktypes.script import ScriptConfig, ScriptTask
from flowrunner.tasktypes.shell import ShellConfig, ShellTask

BUILTIN_TASK_TYPES = (ShellTask, HttpTask, ScriptTask, PythonTask)

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
]
