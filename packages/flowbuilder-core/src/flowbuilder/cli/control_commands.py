"""Steering a run from any process: ``cancel``, ``pause``, ``unpause`` and ``signal``.

Each records a control request in the run's store (through the run service, the same path
as the Python API) and exits 0 once it is recorded; the process running the run honours it
within a second and records it in the run's history with who asked (``--by``, default
``user@host:pid``), when and why (``--reason``). ``--wait`` waits until the history shows
it. An unknown or finished run, a bad ``--data``, or a payload over the size limit is a
one-line error and a non-zero exit.
"""

from __future__ import annotations

import json
from typing import Any, Callable, TypeVar

import click

from flowbuilder.cli.arguments import UTF8_TEXT, FiniteFloatRange
from flowbuilder.cli.context import plugin_host
from flowbuilder.cli.store_option import store_option
from flowbuilder.cli.terminal import echo
from flowbuilder.errors import ConfigurationError, FlowBuilderError

F = TypeVar("F", bound=Callable[..., Any])

_store_option = store_option("The store of the run.")
_reason_option = click.option("--reason", "-r", type=UTF8_TEXT, default="", help="Why; recorded in the run's history.")
_by_option = click.option("--by", type=UTF8_TEXT, help="Who asks (default: user@host:pid of this command).")
_wait_option = click.option("--wait", "wait", is_flag=True, help="Wait until the run's owner has honoured it.")
_wait_seconds_option = click.option("--wait-seconds", type=FiniteFloatRange(min=0), default=10.0, show_default=True,
                                    help="With --wait: give up after this long (non-zero exit).")  # fmt: skip
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def _request(run_id: str, action: str, store: str | None, reason: str, by: str | None, wait: bool,
             wait_seconds: float, as_json: bool, name: str | None = None, payload: Any = None) -> None:  # fmt: skip
    from flowbuilder.cli.runs_commands import open_store_with_run
    from flowbuilder.events import RunStatus
    from flowbuilder.run_service import RunService

    with open_store_with_run(store, run_id) as opened:  # no store there: no such run (none is created)
        service = RunService(plugin_host(), opened)
        recorded = service.request_control(run_id, action, name=name, payload=payload, reason=reason, by=by)
        interrupted = service.run_status(run_id).status is RunStatus.INTERRUPTED
        honoured = service.wait_until_honoured(run_id, recorded, wait_seconds) if wait and not interrupted else None
    what = f"signal {name!r}" if action == "signal" else action
    if as_json:
        click.echo(json.dumps({"run_id": run_id, "request": recorded.to_dict(), "interrupted": interrupted,
                               "honoured_seq": honoured.seq if honoured is not None else None},
                              ensure_ascii=False))  # fmt: skip
    else:
        echo(f"{what} request {recorded.number} recorded for run {run_id} (by {recorded.by})")
        if interrupted:
            echo(f"note: run {run_id} is interrupted (its process is gone); the request takes effect when it is"
                 f" resumed: flowbuilder resume {run_id}", err=True)  # fmt: skip
        elif honoured is not None:
            echo(f"honoured: event {honoured.seq} {honoured.kind.value}")
    if wait and not interrupted and honoured is None:
        raise FlowBuilderError(f"run {run_id} did not honour the {what} request within {wait_seconds:g}s; is its"
                               f" process alive? see: flowbuilder runs show {run_id}")  # fmt: skip
    if wait and interrupted:
        raise FlowBuilderError(
            f"run {run_id} is interrupted: nothing runs it to honour the request until it is resumed"
        )


def _request_options(command: F) -> F:
    """The options every control command shares (--reason, --by, --wait, --wait-seconds, --store, --json)."""
    for option in reversed((_reason_option, _by_option, _wait_option, _wait_seconds_option, _store_option,
                            _json_option)):  # fmt: skip
        command = option(command)
    return command


@click.command()
@click.argument("run_id", type=UTF8_TEXT)
@_request_options
def cancel(run_id: str, reason: str, by: str | None, wait: bool, wait_seconds: float, store: str | None,
           as_json: bool) -> None:  # fmt: skip
    """Cancel a run from any process: running attempts are stopped, nothing more starts."""
    _request(run_id, "cancel", store, reason, by, wait, wait_seconds, as_json)


@click.command()
@click.argument("run_id", type=UTF8_TEXT)
@_request_options
def pause(run_id: str, reason: str, by: str | None, wait: bool, wait_seconds: float, store: str | None,
          as_json: bool) -> None:  # fmt: skip
    """Pause a run: no new attempts start (running ones go on) until `flowbuilder unpause`."""
    _request(run_id, "pause", store, reason, by, wait, wait_seconds, as_json)


@click.command()
@click.argument("run_id", type=UTF8_TEXT)
@_request_options
def unpause(run_id: str, reason: str, by: str | None, wait: bool, wait_seconds: float, store: str | None,
            as_json: bool) -> None:  # fmt: skip
    """Let a paused run start attempts again."""
    _request(run_id, "unpause", store, reason, by, wait, wait_seconds, as_json)


@click.command()
@click.argument("run_id", type=UTF8_TEXT)
@click.argument("name", type=UTF8_TEXT)
@click.option("--data", "-d", "data", type=UTF8_TEXT, help="The signal's payload, as JSON (e.g. '{\"ok\": true}').")
@_request_options
def signal(run_id: str, name: str, data: str | None, reason: str, by: str | None, wait: bool, wait_seconds: float,
           store: str | None, as_json: bool) -> None:  # fmt: skip
    """Send a run the signal NAME with a JSON payload; its history records it as run_signalled."""
    payload: Any = None
    if data is not None:
        try:
            payload = json.loads(data)
        except (ValueError, RecursionError) as error:  # RecursionError: nested deeper than the parser goes
            raise ConfigurationError(f"--data is not JSON ({error}); quote text as JSON, e.g. '\"go\"'") from None
    _request(run_id, "signal", store, reason, by, wait, wait_seconds, as_json, name=name, payload=payload)
