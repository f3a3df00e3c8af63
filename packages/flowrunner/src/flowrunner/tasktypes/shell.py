"""``shell``: run a command string with ``/bin/sh -c`` or an argv list directly.

Values from expressions are never spliced into a command *string*: each ``${{ ... }}`` in
``command`` is replaced by a quoted reference to an environment variable
(``"$FLOWBUILDER_VALUE_1"``) and its value travels in that variable, so the shell never
parses it. (Write the expression bare, not inside quotes of your own.) In an argv list
each element is rendered as text and passed as one argument, with no shell involved.

Example::

    - name: greet
      type: shell
      config: {command: "echo hello ${{ params.name }} > out.txt", cwd: /tmp}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping

from pydantic import Field, field_validator

from flowbuilder.interfaces import ExecutionMode, TaskContext, TaskFailure, TaskType
from flowrunner._outputs import output_from_process
from flowrunner.tasktypes._common import ProcessOptions, process_env

if TYPE_CHECKING:
    from flowbuilder.interfaces import TaskWarning
    from flowbuilder.model import Task, Workflow

VALUE_PREFIX = "FLOWBUILDER_VALUE_"


def env_holds_expressions(task: Task, workflow: Workflow) -> bool:
    """Whether any env entry a task's process gets (workflow, task, config) holds an expression."""
    config_env = task.config.get("env")
    sources = (workflow.env, task.env, config_env if isinstance(config_env, dict) else {})
    return any(isinstance(value, str) and "${{" in value for env in sources for value in env.values())


class ShellConfig(ProcessOptions):
    """Config of a ``shell`` task."""

    command: str | list[str] = Field(description="A command for `/bin/sh -c`, or an argv list run without a shell.")
    shell: str = Field("/bin/sh", description="The shell that runs a command string.")
    success_codes: list[int] = Field(default_factory=lambda: [0], description="Exit codes that count as success.")

    @field_validator("command")
    @classmethod
    def _not_empty(cls, command: str | list[str]) -> str | list[str]:
        if not command or (isinstance(command, str) and not command.strip()):
            raise ValueError("command is empty; give a command string or an argv list")
        return command


class ShellTask(TaskType):
    """Runs a process in its own process group; output = last JSON line of stdout, else all of it."""

    name: ClassVar[str] = "shell"
    config_model: ClassVar[type[ShellConfig]] = ShellConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.ASYNC
    summary: ClassVar[str] = "run a command (string via /bin/sh -c, or argv list); stdout is the output"

    def warm(self) -> None:
        """Also import the bash linter that :meth:`lint` loads on first use."""
        super().warm()
        import flowrunner.tasktypes._bash_lint  # noqa: F401

    def lint(self, task: Task, workflow: Workflow) -> Iterable[TaskWarning]:
        """Warn where a value fed by an expression reaches bash arithmetic (see _bash_lint)."""
        command = task.config.get("command")
        shell = task.config.get("shell", "/bin/sh")
        if not isinstance(command, str) or not isinstance(shell, str):
            return ()
        if "${{" not in command and not env_holds_expressions(task, workflow):
            return ()  # nothing fed by an expression: the common case, kept cheap
        from flowrunner.tasktypes._bash_lint import SHELLS, lint_script

        if shell.rpartition("/")[2] not in SHELLS:
            return ()
        return lint_script(command, ("config", "command"), task, workflow, inline=True)

    def render_config(self, raw: Mapping[str, Any], scope: Mapping[str, Any]) -> dict[str, Any]:
        """Render expressions, turning those inside a command string into environment variables."""
        from flowbuilder.expressions import EXPRESSION, as_text, evaluate, render

        config = {key: render(value, scope) for key, value in raw.items() if key != "command"}
        command = raw.get("command")
        if isinstance(command, str) and "${{" in command:
            values: dict[str, str] = {}

            def to_variable(match: Any) -> str:
                name = f"{VALUE_PREFIX}{len(values) + 1}"
                values[name] = as_text(evaluate(match.group(1).strip(), scope))
                return f'"${name}"'

            config["command"] = EXPRESSION.sub(to_variable, command)
            config["env"] = {**(config.get("env") or {}), **values}
        elif isinstance(command, list):
            config["command"] = [as_text(render(part, scope)) for part in command]
        else:
            config["command"] = command
        return config

    async def run(self, config: ShellConfig, context: TaskContext) -> Any:  # type: ignore[override]
        from flowrunner._process import run_captured  # subprocess machinery: loaded on first run only

        argv = [config.shell, "-c", config.command] if isinstance(config.command, str) else list(config.command)
        try:
            completed = await run_captured(
                argv,
                env=process_env(config, context.env),
                cwd=config.cwd,
                log=context.log,
                max_log_bytes=config.max_log_bytes,
                kill_grace=config.kill_grace,
            )
        except (FileNotFoundError, NotADirectoryError, PermissionError) as error:
            if config.cwd is not None and error.filename == config.cwd:
                raise TaskFailure(f"cwd {config.cwd!r}: {error.strerror}", retryable=False) from None
            raise TaskFailure(f"cannot run {argv[0]!r}: {error.strerror}", retryable=False) from None
        if completed.exit_code not in config.success_codes:
            detail = f": {completed.stderr_tail[-1]}" if completed.stderr_tail else ""
            raise TaskFailure(f"command exited with {completed.exit_code}{detail}", exit_code=completed.exit_code)
        return output_from_process(completed)
