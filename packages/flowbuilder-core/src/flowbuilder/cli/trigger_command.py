"""``flowbuilder trigger``: deliver a webhook payload by hand (or from CI) to a workflow with ``on: {webhook}``.

Calls :func:`flowbuilder.webhooks.fire_webhook`, the function the UI package's server will
call for HTTP deliveries, then follows the run to its end in this process (as ``flowbuilder
run`` does). No signature is checked: whoever runs the command is trusted as an operator.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import click

from flowbuilder.cli.arguments import UTF8_TEXT
from flowbuilder.cli.context import plugin_host
from flowbuilder.cli.store_option import store_option

EXIT_CODES = {"succeeded": 0, "cancelled": 130}


def _payload(data: str) -> Any:
    """The JSON value of ``--data``: JSON text, or ``@FILE`` (UTF-8 JSON, bounded in size)."""
    from flowbuilder.cli.arguments import read_argument_file
    from flowbuilder.errors import ConfigurationError
    from flowbuilder.trigger_sources import MAX_PAYLOAD_BYTES

    text = data
    if data.startswith("@"):
        try:
            raw = read_argument_file(data[1:] or ".", MAX_PAYLOAD_BYTES * 4)
        except OSError as error:
            raise ConfigurationError(f"--data {data!r}: cannot read the file ({error.strerror or error})") from None
        if not raw.strip():  # also a FIFO nobody writes to (read without waiting for a writer)
            raise ConfigurationError(f"--data {data!r}: the file is empty; it must hold a JSON object")
        if len(raw) > MAX_PAYLOAD_BYTES * 4:
            raise ConfigurationError(f"--data {data!r}: the file is larger than {MAX_PAYLOAD_BYTES * 4} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigurationError(f"--data {data!r}: the file is not UTF-8 text (JSON expected)") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise ConfigurationError(f'--data is not JSON ({reason}); e.g. --data \'{{"day": "2026-12-05"}}\'') from None


@click.command()
@click.argument("workflow_file", type=click.Path(path_type=Path))
@click.option("--data", required=True, type=UTF8_TEXT, metavar="JSON",
              help="The payload: a JSON object whose entries become params (or @FILE).")  # fmt: skip
@click.option("--id", "delivery_id", type=UTF8_TEXT, metavar="DELIVERY",
              help="The delivery id; a second delivery with the same id starts no second run.")  # fmt: skip
@store_option("Where the run is recorded (e.g. rocksdb://PATH, redis://HOST:PORT/DB).")
@click.option("--runner", type=UTF8_TEXT, metavar="NAME", help="Which installed runner executes the run.")
def trigger(workflow_file: Path, data: str, delivery_id: str | None, store: str | None, runner: str | None) -> None:
    """Deliver a webhook payload to WORKFLOW_FILE (which has `on: {webhook: ...}`) and run it.

    Exit 0 when the run succeeded (or the delivery id already started a run), 1 when it
    failed, 130 when cancelled, 2 for an invalid workflow file.
    """
    from flowbuilder.errors import ConfigurationError
    from flowbuilder.run_service import RunService
    from flowbuilder.webhooks import fire_webhook

    payload = _payload(data)
    if not workflow_file.is_file():
        raise ConfigurationError(f"no workflow file {str(workflow_file)!r}")
    host = plugin_host()
    runner_engine = host.make_runner(runner)
    with host.open_store(store) as opened:
        service = RunService(host, opened, runner=runner_engine, concurrency=host.settings.concurrency)

        async def deliver() -> str | None:
            delivery = await fire_webhook(service, workflow_file, payload, delivery_id)
            if not delivery.started or delivery.handle is None:
                click.echo(f"delivery {delivery.delivery_id} already started run {delivery.run_id}")
                return None
            click.echo(f"delivery {delivery.delivery_id} started run {delivery.run_id}", err=True)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, delivery.handle.cancel)
            result = await delivery.handle.result()
            click.echo(f"run {delivery.run_id} {result.status.value}")
            return result.status.value

        try:
            status = asyncio.run(deliver())
        finally:
            service.close()
    if status is not None and status != "succeeded":
        raise SystemExit(EXIT_CODES.get(status, 1))
