"""``flowbuilder cluster send|broadcast|publish|request|listen``: the cluster event bus from a shell.

Each command opens the bus named by ``--bus`` (else ``[bus] url`` in ``flowbuilder.toml``
or ``FLOWBUILDER_BUS__URL``) as the node ``--node`` (else ``[bus] node``, else
``cli-HOSTNAME-PID``). Bodies are JSON objects given as text, ``@FILE`` or ``-`` (stdin).
Received messages print one JSON document per line. The commands join a ``cluster`` group
that another module of this package may have created (``cluster status``), or create it.

Only the commands, click and core's CLI facade are imported with this module; the bus loads when one runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from flowbuilder.cli.context import UTF8_TEXT, FiniteFloatRange, read_argument_file

if TYPE_CHECKING:
    from flowbuilder.interfaces.message_bus import Message, MessageBus

GROUP_NAME = "cluster"


@click.group(GROUP_NAME)
def cluster_bus_commands() -> None:
    """The cluster: messages between nodes (send, broadcast, publish, request, listen)."""


def _bus_options(command: Any) -> Any:
    command = click.option("--node", metavar="ID", default=None,
                           help="This node's id (default: [bus] node, else cli-HOSTNAME-PID).")(command)  # fmt: skip
    return click.option("--bus", "bus_url", type=UTF8_TEXT, metavar="URL", default=None,
                        help="The bus, e.g. redis://127.0.0.1:6379/0 (default: [bus] url).")(command)  # fmt: skip


def _open(bus_url: str | None, node: str | None) -> MessageBus:
    import os
    import socket

    from flowbuilder.cli.context import plugin_host
    from flowbuilder.errors import ConfigurationError

    host = plugin_host()
    configured = host.settings.section("bus")
    url = bus_url or str(configured.get("url") or "")
    if not url or url.startswith("local:"):
        raise ConfigurationError(
            "the local:// bus reaches only this process; give --bus redis://HOST:PORT/DB"
            " (or set [bus] url in flowbuilder.toml, or FLOWBUILDER_BUS__URL)"
        )
    node_id = node or str(configured.get("node") or f"cli-{socket.gethostname()}-{os.getpid()}")
    return host.open_message_bus(url, node_id)


def _body(text: str) -> dict[str, Any]:
    """A JSON object from ``text``, ``@FILE`` or ``-`` (stdin); a usage error says what is wrong."""
    import json

    from flowbuilder.interfaces.message_bus import MAX_BODY_BYTES

    where = "the body"
    limit = MAX_BODY_BYTES * 4  # a body's JSON is sent ASCII-escaped: more than this never fits
    if text == "-":
        text, where = sys.stdin.read(limit + 1), "stdin"
    elif text.startswith("@"):
        path, where = text[1:], text[1:]
        try:  # bounded (``@/dev/zero`` filled memory) and never waiting on a FIFO nobody writes to
            text = read_argument_file(path, limit).decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise click.BadParameter(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    if len(text) > limit:
        raise click.BadParameter(f"{where} is over {limit:,} bytes; a message body is at most {MAX_BODY_BYTES:,}")
    try:
        body = json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f'{where} is not JSON ({error}); give an object like \'{{"key": "value"}}\'') from None
    if not isinstance(body, dict):
        raise click.BadParameter(f"{where} must be a JSON object ({{...}}), not {type(body).__name__}")
    return body


def _show(message: Message) -> None:
    import json

    text = json.dumps(message.to_dict(), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in a body): printed escaped, as JSON allows
        text = json.dumps(message.to_dict())
    click.echo(text)


@cluster_bus_commands.command("send")
@click.argument("to_node", metavar="NODE")
@click.argument("body", metavar="BODY")
@_bus_options
def send_command(to_node: str, body: str, bus_url: str | None, node: str | None) -> None:
    """Put the JSON object BODY in NODE's inbox; prints the message sent."""
    with _open(bus_url, node) as bus:
        _show(bus.send(to_node, _body(body)))


@cluster_bus_commands.command("broadcast")
@click.argument("body", metavar="BODY")
@_bus_options
def broadcast_command(body: str, bus_url: str | None, node: str | None) -> None:
    """Send the JSON object BODY to every listening node; prints the message sent."""
    with _open(bus_url, node) as bus:
        _show(bus.broadcast(_body(body)))


@cluster_bus_commands.command("publish")
@click.argument("topic")
@click.argument("body", metavar="BODY")
@_bus_options
def publish_command(topic: str, body: str, bus_url: str | None, node: str | None) -> None:
    """Publish the JSON object BODY to TOPIC; prints the message sent."""
    with _open(bus_url, node) as bus:
        _show(bus.publish(topic, _body(body)))


@cluster_bus_commands.command("request")
@click.argument("to")
@click.argument("body", metavar="BODY")
@click.option("--topic", "to_topic", is_flag=True, help="TO is a topic (the first reply wins), not a node.")
@click.option("--timeout", type=FiniteFloatRange(min=0.0, max=3600.0), default=5.0, show_default=True,
              help="Seconds to wait for the reply.")  # fmt: skip
@_bus_options
def request_command(to: str, body: str, to_topic: bool, timeout: float, bus_url: str | None, node: str | None) -> None:
    """Send the JSON object BODY as a request to node TO and print its reply (exit 1 on timeout)."""
    with _open(bus_url, node) as bus:
        _show(bus.request(to, _body(body), timeout=timeout, topic=to_topic))


@cluster_bus_commands.command("listen")
@click.option("--topic", "topics", multiple=True, metavar="TOPIC", help="Also subscribe to TOPIC (repeatable).")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Exit after this many messages.")
@click.option("--timeout", type=FiniteFloatRange(min=0.0, max=1e9), default=None,
              help="Exit after this many seconds (status 0, whatever arrived).")  # fmt: skip
@click.option("--echo", is_flag=True, help='Answer every request with {"echo": BODY}.')
@_bus_options
def listen_command(topics: tuple[str, ...], count: int | None, timeout: float | None, echo: bool,
                   bus_url: str | None, node: str | None) -> None:  # fmt: skip
    """Print each message of this node's inbox, of broadcasts and of each --topic, one JSON line each.

    Delivery is at-least-once: a message may print twice (after a crash), with the same id.
    """
    import threading

    from flowbuilder.interfaces.message_bus import MessageBusError

    done = threading.Event()
    received = 0
    lock = threading.Lock()

    with _open(bus_url, node) as bus:

        def handle(message: Message) -> None:
            nonlocal received
            with lock:
                if done.is_set():  # not acknowledged: the next listener of this node gets it
                    raise MessageBusError(f"listen is stopping; message {message.id} is left for the next listener")
                _show(message)
                sys.stdout.flush()
                if echo and message.kind == "request":
                    bus.reply(message, {"echo": dict(message.body)})
                received += 1
                if count is not None and received >= count:
                    done.set()

        bus.listen(handle)
        for topic in topics:
            bus.subscribe(topic, handle)
        click.echo(f"listening as {bus.node_id}", err=True)
        done.wait(timeout)
        done.set()


def add_bus_commands(cli: click.Group) -> None:
    """Put the bus commands under ``flowbuilder cluster``, joining a ``cluster`` group already there."""
    existing = cli.commands.get(GROUP_NAME)
    if isinstance(existing, click.Group) and existing is not cluster_bus_commands:
        for name, command in cluster_bus_commands.commands.items():
            existing.add_command(command, name)
        return
    cli.add_command(cluster_bus_commands)


__all__ = ["GROUP_NAME", "add_bus_commands", "cluster_bus_commands"]
