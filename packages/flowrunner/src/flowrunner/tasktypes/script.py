"""``script``: code written in the workflow file, run in a fresh interpreter.

``input_data`` carries the upstream outputs: the JSON text of the single direct
dependency's output, or of a ``{name: output}`` mapping when there are several (``"null"``
when there are none). Python code sees it as the variable ``input_data``; bash code as
``$INPUT_DATA``; both also get ``$FLOWBUILDER_INPUT_FILE``, the path of a file holding it
(use that for large inputs). stdout is the output: its last JSON line, else all of it.

``code`` may not contain ``${{ }}`` expressions: splicing values into code is injection
waiting to happen. Read them from ``input_data``, or from ``env`` entries (which may hold
expressions) through ``os.environ``.

Example (the seed workflow)::

    - name: process_data
      type: script
      depends_on: [fetch_data]
      config:
        language: python
        code: |
          import json
          data = json.loads(input_data)
          print(json.dumps({"count": len(data)}))
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Literal, Mapping

from pydantic import Field, field_validator

from flowbuilder.interfaces import ExecutionMode, TaskContext, TaskFailure, TaskType
from flowrunner._outputs import output_from_process
from flowrunner.tasktypes._common import ProcessOptions, process_env

if TYPE_CHECKING:
    from flowbuilder.interfaces import TaskWarning
    from flowbuilder.model import Task, Workflow

# Runs the user's file as __main__ with `input_data` defined; tracebacks show the user's lines.
_PYTHON_BOOTSTRAP = """\
import sys
with open(sys.argv[2], encoding="utf-8") as _input:
    _data = _input.read()
_path = sys.argv[1]
with open(_path, encoding="utf-8") as _source:
    _code = compile(_source.read(), _path, "exec")
sys.argv = [_path]
exec(_code, {"__name__": "__main__", "__file__": _path, "__builtins__": __builtins__, "input_data": _data})
"""


class ScriptConfig(ProcessOptions):
    """Config of a ``script`` task."""

    code: str = Field(description="The program text.")
    language: Literal["python", "bash"] = Field("python", description="How `code` is run.")
    interpreter: str | None = Field(None, description="Interpreter path (default: this Python, or `bash`).")
    success_codes: list[int] = Field(default_factory=lambda: [0], description="Exit codes that count as success.")

    @field_validator("code")
    @classmethod
    def _no_expressions(cls, code: str) -> str:
        if "${{" in code:
            raise ValueError(
                "script code cannot contain ${{ }} expressions (values spliced into code can inject code); "
                "read upstream outputs from input_data, or set an `env` entry and read it from the environment"
            )
        if not code.strip():
            raise ValueError("code is empty")
        return code


def input_data_for(inputs: dict[str, Any] | Any) -> str:
    """The ``input_data`` text: the single upstream output, a mapping of several, or null."""
    if not inputs:
        value: Any = None
    elif len(inputs) == 1:
        value = next(iter(inputs.values()))
    else:
        value = dict(inputs)
    return json.dumps(value, default=str)


class ScriptTask(TaskType):
    """Runs ``code`` with a fresh Python (or bash) in its own process group."""

    name: ClassVar[str] = "script"
    config_model: ClassVar[type[ScriptConfig]] = ScriptConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.ASYNC
    summary: ClassVar[str] = "run inline python or bash code in a fresh interpreter; input_data holds upstream outputs"

    def lint(self, task: Task, workflow: Workflow) -> Iterable[TaskWarning]:
        """For bash code: warn where an ``env`` entry fed by an expression reaches bash arithmetic."""
        code = task.config.get("code")
        if task.config.get("language") != "bash" or not isinstance(code, str):
            return ()
        from flowrunner.tasktypes.shell import env_holds_expressions

        if not env_holds_expressions(task, workflow):
            return ()
        from flowrunner.tasktypes._bash_lint import lint_script

        return lint_script(code, ("config", "code"), task, workflow, inline=False)

    def render_config(self, raw: Mapping[str, Any], scope: Mapping[str, Any]) -> dict[str, Any]:
        """Render expressions in every field but ``code``, where they are refused (see the module doc).

        The compiler cannot reject them earlier: it defers validation of fields holding
        expressions to run time, so this is where the rule is enforced.
        """
        from flowbuilder.expressions import render

        code = raw.get("code")
        if isinstance(code, str) and "${{" in code:
            raise TaskFailure(
                "script code cannot contain ${{ }} expressions (values spliced into code can inject code); "
                "read upstream outputs from input_data, or set an `env` entry and read it from the environment",
                retryable=False,
            )
        return {key: (value if key == "code" else render(value, scope)) for key, value in raw.items()}

    async def run(self, config: ScriptConfig, context: TaskContext) -> Any:  # type: ignore[override]
        from flowrunner._process import run_captured  # subprocess machinery: loaded on first run only

        data = input_data_for(context.inputs)
        with tempfile.TemporaryDirectory(prefix="flowrunner-script-") as folder:
            input_path = os.path.join(folder, "input.json")
            with open(input_path, "w", encoding="utf-8") as handle:
                handle.write(data)
            if config.language == "python":
                code_path = os.path.join(folder, f"{context.task}.py")
                with open(code_path, "w", encoding="utf-8") as handle:
                    handle.write(config.code)
                argv = [config.interpreter or sys.executable, "-c", _PYTHON_BOOTSTRAP, code_path, input_path]
                extra = {"FLOWBUILDER_INPUT_FILE": input_path}
            else:
                argv = [config.interpreter or "bash", "-c", config.code, context.task]
                extra = {"FLOWBUILDER_INPUT_FILE": input_path}
                if len(data) < 64 * 1024:  # larger values would exceed the kernel's per-variable limit
                    extra["INPUT_DATA"] = data
            try:
                completed = await run_captured(
                    argv,
                    env=process_env(config, context.env, extra),
                    cwd=config.cwd,
                    log=context.log,
                    max_log_bytes=config.max_log_bytes,
                    kill_grace=config.kill_grace,
                )
            except FileNotFoundError as error:
                raise TaskFailure(
                    f"cannot run {argv[0]!r} ({error.strerror}); is it installed?", retryable=False
                ) from None
        if completed.exit_code not in config.success_codes:
            detail = f": {completed.stderr_tail[-1]}" if completed.stderr_tail else ""
            raise TaskFailure(
                f"{config.language} script exited with {completed.exit_code}{detail}", exit_code=completed.exit_code
            )
        return output_from_process(completed)
