"""The root command group, lazy command loading and the error boundary.

The error boundary is the one place that turns a :class:`FlowBuilderError` into one line on
stderr and its exit code: bad input never shows a traceback. Anything else is a bug in
FlowBuilder or a plugin: it is shown as one line too, with the way to get the traceback
(``FLOWBUILDER_DEBUG=1``).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from importlib import import_module
from typing import Any, NoReturn

import click

from flowbuilder._version import __version__

# name -> (module, attribute); imported on first use only.
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("flowbuilder.cli.inspect_commands", "validate"),
    "plan": ("flowbuilder.cli.inspect_commands", "plan"),
    "graph": ("flowbuilder.cli.inspect_commands", "graph"),
    "schema": ("flowbuilder.cli.inspect_commands", "schema"),
    "plugins": ("flowbuilder.cli.plugin_commands", "plugins"),
    "version": ("flowbuilder.cli.plugin_commands", "version"),
    "run": ("flowbuilder.cli.run_command", "run"),
    "runs": ("flowbuilder.cli.runs_commands", "runs"),
    "logs": ("flowbuilder.cli.runs_commands", "logs"),
    "resume": ("flowbuilder.cli.runs_commands", "resume"),
    "retry": ("flowbuilder.cli.runs_commands", "retry"),
    "gc": ("flowbuilder.cli.runs_commands", "gc"),
    "cancel": ("flowbuilder.cli.control_commands", "cancel"),
    "pause": ("flowbuilder.cli.control_commands", "pause"),
    "unpause": ("flowbuilder.cli.control_commands", "unpause"),
    "signal": ("flowbuilder.cli.control_commands", "signal"),
    "cache": ("flowbuilder.cli.cache_commands", "cache"),
    # schedules (issue 11.1)
    "scheduler": ("flowbuilder.cli.schedule_commands", "scheduler"),
    "backfill": ("flowbuilder.cli.schedule_commands", "backfill"),
    # webhook triggers by hand (issue 11.2)
    "trigger": ("flowbuilder.cli.trigger_command", "trigger"),
    # the audit log of the server's calls (issue 13)
    "audit": ("flowbuilder.cli.audit_command", "audit"),
}

EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE


class LazyGroup(click.Group):
    """Built-in commands imported on demand; plugin commands added only when asked for."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._plugins_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from flowbuilder.cli.context import plugin_host
        from flowbuilder.errors import PluginError

        host = plugin_host()
        plugin_group = click.Group()
        owners = host.add_cli_commands(plugin_group)  # two plugins adding one name: PluginError there
        for name, command in plugin_group.commands.items():
            if name in BUILTIN_COMMANDS or name in self.commands:
                raise PluginError(f"{host.describe(owners.get(name, '?'))} adds the command {name!r}, which is"
                                  " built in; disable it with FLOWBUILDER_DISABLE_PLUGINS")  # fmt: skip
            self.add_command(command, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return sorted({*BUILTIN_COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BUILTIN_COMMANDS:
            module_name, attribute = BUILTIN_COMMANDS[cmd_name]
            command: click.Command = getattr(import_module(module_name), attribute)
            return command
        command_or_none = super().get_command(ctx, cmd_name)
        if command_or_none is None:
            self._add_plugin_commands()
            command_or_none = super().get_command(ctx, cmd_name)
        return command_or_none


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="flowbuilder-core", message="%(prog)s %(version)s")
def cli() -> None:
    """FlowBuilder: validate, plan and run YAML workflows.

    Settings come from flowbuilder.toml and FLOWBUILDER_* environment variables; flags win.
    """


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI inside the error boundary.

    Without ``argv`` (the console script, ``python -c "...; main()"``) the process ends with
    the command, so its garbage is collected and what is left is frozen out of the cyclic
    collector on the way out (:func:`_spare_final_collections`). With ``argv`` (an embedding
    caller, the tests) the process goes on and nothing changes.
    """
    try:
        _run_in_error_boundary(argv)
    finally:
        if argv is None:
            _spare_final_collections()


def _spare_final_collections() -> None:
    """Collect the command's garbage, then freeze what is still alive, before the interpreter exits.

    Why: while it tears the modules down at exit, the interpreter runs full cyclic
    collections, and each walks every object the command made (the imported modules,
    pydantic's models and schemas, the plugins): about 30 ms of CPU of ``flowbuilder run``,
    a tenth of the command (bench/startup.py). One collection here, with every module
    still intact, runs the finalizers of whatever became garbage during the command, as the
    collections at exit did; the objects still alive are then moved to the permanent
    generation, which no later collection walks. They are released by reference counting
    when their modules are cleared, as before; atexit handlers, thread joins and the flush
    of stdout and stderr are unchanged. Only reference cycles among objects alive at the end of
    the command that become garbage afterwards (in an atexit handler, as a thread ends, as
    the modules are cleared) are left to the operating system with the rest of the process's
    memory (Python never promised their ``__del__`` at exit).
    """
    import gc

    try:
        gc.collect()
        gc.freeze()
    except KeyboardInterrupt:  # Ctrl-C in these last milliseconds: exit with the command's own status
        pass


def _run_in_error_boundary(argv: list[str] | None) -> None:
    from flowbuilder._entry_point_cache import hold_fingerprint
    from flowbuilder.errors import FlowBuilderError

    try:
        with hold_fingerprint():  # nothing is installed while one command runs: list sys.path once
            cli.main(args=argv, prog_name="flowbuilder", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        shown = io.StringIO()
        error.show(file=shown)
        click.echo(_cut_quoted_values(shown.getvalue()), err=True, nl=False)
        sys.exit(error.exit_code)
    except FlowBuilderError as error:  # user errors: one line each, the error's own exit status
        from flowbuilder.cli.terminal import echo

        for line in str(error).splitlines() or [type(error).__name__]:
            echo(f"error: {line}" if not _is_located(line) else line, err=True)  # may quote task output
        sys.exit(error.exit_status)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as error:
        if error.errno not in _FULL_DEVICE_ERRNOS:
            _internal_error(error)
        # The output (``> /dev/full``, a full disk or quota) could not be written: the machine's
        # state, not a bug. Whatever is still buffered for stdout would fail again when the
        # interpreter flushes it on the way out (exit 120), so stdout now goes nowhere.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        where = f"{error.filename}: " if error.filename else "cannot write the output: "
        click.echo(f"error: {where}{error.strerror or error}", err=True)
        sys.exit(1)
    except Exception as error:
        _internal_error(error)
    sys.exit(0)


_FULL_DEVICE_ERRNOS = frozenset(
    code for code in (getattr(errno, name, None) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO")) if code is not None
)
"""Errors of a write that the machine refused (no space, over quota, too large, a failing device)."""


def _internal_error(error: BaseException) -> NoReturn:
    """A bug: one line, and the way to see more (``FLOWBUILDER_DEBUG=1`` re-raises it)."""
    if os.environ.get("FLOWBUILDER_DEBUG"):
        raise error
    click.echo(
        f"internal error: {type(error).__name__}: {error} (set FLOWBUILDER_DEBUG=1 for the traceback and report it)",
        err=True,
    )
    sys.exit(EXIT_INTERNAL_ERROR)


def _cut_quoted_values(message: str) -> str:
    """click's own messages quote a refused argument in full (``'…' is not a valid integer``,
    ``Got unexpected extra argument (…)``): each quoted or bracketed text over
    :data:`~flowbuilder.errors.QUOTED_CHARACTERS` is cut as :func:`~flowbuilder.errors.quoted`
    cuts the values our own errors quote."""
    import re

    from flowbuilder.errors import QUOTED_CHARACTERS, cut, quoted

    longer = QUOTED_CHARACTERS + 1
    message = re.sub(rf"'([^'\n]{{{longer},}})'", lambda match: quoted(match.group(1)), message)
    return re.sub(rf"\(([^()\n]{{{longer},}})\)", lambda match: f"({cut(match.group(1))})", message)


def _is_located(line: str) -> bool:
    """Whether a message already starts with ``FILE:LINE:COL:``."""
    parts = line.split(":", 3)
    return len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit()
