"""Config pieces shared by the task types that start processes."""

from __future__ import annotations

import os
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field

from flowrunner._runner_environ import runner_environment

DEFAULT_MAX_LOG_BYTES = 1 << 20


class ConfigModel(BaseModel):
    """Base of every built-in config: unknown fields are errors (a typo never does nothing).

    ``defer_build``: pydantic builds a model's validator when it is first used, not when the
    class is defined, so a command that validates a workflow of shell tasks does not pay for
    the http, script and python models.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class ProcessOptions(ConfigModel):
    """Options of anything that runs a child process."""

    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables for the process.")
    cwd: str | None = Field(None, description="Working directory (default: the runner's).")
    inherit_env: bool = Field(
        True, description="Start from the runner's environment (false: only env and the task's env)."
    )
    max_log_bytes: int = Field(
        DEFAULT_MAX_LOG_BYTES,
        ge=0,
        description="Log bytes kept per attempt; a marker line says when more were dropped.",
    )
    kill_grace: float = Field(5.0, ge=0, description="Seconds between SIGTERM and SIGKILL when the attempt is stopped.")


def process_env(options: ProcessOptions, task_env: Mapping[str, str], extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The child's environment: runner's (if inherited), then the workflow/task env, then the type's."""
    env: dict[str, Any] = (
        runner_environment() if options.inherit_env else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    )
    env.update(task_env)
    env.update(options.env)
    env.update(extra)
    return env
