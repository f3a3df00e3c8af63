"""The plugin's commands: ``flowbuilder worker`` and ``flowbuilder cluster status``.

``cluster status`` reads the node registry that workers join and schedulers announce
themselves in (``flowbuilder scheduler --registry``): one row per node with its ROLE
(``leader`` / ``standby`` for a scheduler, ``active`` for a worker), and a last line that
names the live leader.

Added through ``flowbuilder_cli_commands``; this module imports only click and core's CLI
helpers, and each command imports its machinery (redis, the runner) when it runs, so
``flowbuilder --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from flowbuilder.cli.context import UTF8_TEXT, FiniteFloatRange

WORKER_DEFAULT_STORE = "redis://127.0.0.1:6379/0"


def _labels(value: str | None) -> tuple[str, ...]:
    import re

    from flowbuilder.model import NAME_PATTERN

    labels = tuple(label.strip() for label in (value or "").split(",") if label.strip())
    for label in labels:
        if not re.match(NAME_PATTERN, label):
            raise click.BadParameter(f"{label!r} is not a label name (letters, digits, _ and -)", param_hint="--labels")
    return labels


@click.command()
@click.option("--store", "url", type=UTF8_TEXT, metavar="URL", default=WORKER_DEFAULT_STORE, show_default=True,
              envvar="FLOWBUILDER_WORKERS", help="The Redis the schedulers send attempts through (redis://HOST:PORT/DB).")  # fmt: skip
@click.option("--labels", metavar="A,B", help="This worker's labels (a task's worker.labels must all be here).")
@click.option("--group", default="default", show_default=True, help="The worker group it serves.")
@click.option("--concurrency", "-c", type=click.IntRange(1, 4096), default=4, show_default=True,
              help="Attempts at once.")  # fmt: skip
@click.option("--lease", type=FiniteFloatRange(0.2, 86400), default=30.0, show_default=True,
              help="Seconds after which another worker reclaims an attempt this one stopped renewing.")  # fmt: skip
@click.option("--max-deliveries", type=click.IntRange(1, 1000), default=3, show_default=True,
              help="Deliveries of one attempt before it is dead-lettered and its task fails.")  # fmt: skip
@click.option("--drain-timeout", type=FiniteFloatRange(0, 86400), default=30.0, show_default=True,
              help="On SIGTERM: seconds running attempts may take before they are handed back.")  # fmt: skip
@click.option("--heartbeat", type=FiniteFloatRange(0.05, 3600), default=2.0, show_default=True,
              help="Seconds between registry heartbeats (cluster status calls a node dead after --dead-after).")  # fmt: skip
@click.option("--prefix", type=UTF8_TEXT, default=None, help="Key prefix in Redis (default flowbuilder).")
def worker(url: str, labels: str | None, group: str, concurrency: int, lease: float, max_deliveries: int,
           drain_timeout: float, heartbeat: float, prefix: str | None) -> None:  # fmt: skip
    """Run attempts that `flowbuilder run --workers URL` sends, until SIGTERM or SIGINT (then drain, exit 0)."""
    import asyncio
    import logging
    import re
    import signal

    from flowbuilder.cli.context import plugin_host
    from flowbuilder.model import NAME_PATTERN
    from flowbuilder_distributed.worker import Worker, WorkerOptions

    if not re.match(NAME_PATTERN, group):
        raise click.BadParameter(f"{group!r} is not a group name (letters, digits, _ and -)", param_hint="--group")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker: %(message)s", datefmt="%H:%M:%S")
    options = WorkerOptions(labels=_labels(labels), group=group, concurrency=concurrency, lease=lease,
                            max_deliveries=max_deliveries, drain_timeout=drain_timeout, heartbeat=heartbeat,
                            prefix=prefix)  # fmt: skip
    engine = Worker(url, plugin_host().task_types(), options)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, engine.stop)
        await engine.run()

    _run_reporting_redis_loss(main(), url)
    click.echo(f"worker {options.node_id} stopped: {engine.completed} attempt(s) run", err=True)


def _run_reporting_redis_loss(coroutine: object, url: str) -> None:
    """Run the worker; losing Redis mid-way becomes a one-line error (exit 1), not a traceback."""
    import asyncio

    import redis

    from flowbuilder.errors import ConfigurationError, shown_url

    try:
        asyncio.run(coroutine)  # type: ignore[arg-type]
    except redis.ResponseError as error:  # reachable, but it refused: WRONGTYPE, NOGROUP (restarted empty)...
        hint = (
            "; a key under the workers' prefix holds something else (see --prefix)" if "WRONGTYPE" in str(error) else ""
        )
        raise ConfigurationError(f"the workers' Redis at {shown_url(url)} refused a command: {error}{hint}") from None
    except redis.RedisError as error:
        raise ConfigurationError(f"lost the workers' Redis at {shown_url(url)}: {error}") from None


@click.group()
def cluster() -> None:
    """Inspect the cluster: its nodes and their health."""


@cluster.command()
@click.option("--store", "url", type=UTF8_TEXT, metavar="URL", default=WORKER_DEFAULT_STORE, show_default=True,
              envvar="FLOWBUILDER_WORKERS", help="The Redis the nodes register in.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the nodes as JSON (for machines).")
@click.option("--dead-after", type=FiniteFloatRange(0.1, 86400), default=10.0, show_default=True,
              help="A node whose last heartbeat is older than this many seconds is dead.")  # fmt: skip
@click.option("--prefix", type=UTF8_TEXT, default=None, help="Key prefix in Redis (default flowbuilder).")
def status(url: str, as_json: bool, dead_after: float, prefix: str | None) -> None:
    """List the registered nodes: schedulers (leader or standby) and workers, with labels, load, heartbeat age, health."""
    import json
    import time

    import redis

    from flowbuilder.errors import ConfigurationError, shown_url
    from flowbuilder_distributed._redis_connection import connect
    from flowbuilder_distributed.registry import NodeRegistry
    from flowbuilder_distributed.stream_keys import StreamKeys

    client = connect(url, "the cluster's Redis")
    try:
        nodes = NodeRegistry(client, keys=StreamKeys(prefix) if prefix else None, dead_after=dead_after).nodes()
    except redis.RedisError as error:
        raise ConfigurationError(f"cannot read the registry at {shown_url(url)}: {error}") from None
    finally:
        client.close()
    now = time.time()
    rows = [node.as_json(dead_after, now) for node in sorted(nodes, key=lambda n: (n.kind, n.group, n.id))]
    if as_json:
        click.echo(json.dumps({"nodes": rows}, indent=2))
        return
    if not rows:
        click.echo("no nodes registered")
        return
    header = ("NODE", "KIND", "ROLE", "GROUP", "LABELS", "RUNNING", "LOAD", "HEARTBEAT", "HEALTH")
    table = [header] + [_status_row(r) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())
    live = sum(1 for r in rows if r["health"] == "alive")
    leaders = [
        str(r["id"]) for r in rows if r["kind"] == "scheduler" and r["role"] == "leader" and r["health"] == "alive"
    ]
    schedulers = sum(1 for r in rows if r["kind"] == "scheduler")
    summary = f"; {schedulers} scheduler(s), leader: {', '.join(leaders) or 'none'}" if schedulers else ""
    click.echo(f"{len(rows)} node(s), {live} alive{summary}")


def _status_row(r: dict[str, Any]) -> tuple[str, ...]:
    """One node as a table row. A scheduler runs no attempts: its group, slots and load are ``-``."""
    health = f"{r['health']} ({r['state']})" if r["state"] != "active" else str(r["health"])
    node = f"{r['id']} ({r['address']})" if r["address"] and r["address"] != r["id"] else str(r["id"])
    if r["kind"] == "scheduler":
        return (node, "scheduler", str(r["role"]), "-", ",".join(r["labels"]) or "-", "-", "-",
                f"{r['heartbeat_age']:.1f}s ago", health)  # fmt: skip
    return (node, str(r["kind"]), str(r["role"]), str(r["group"]), ",".join(r["labels"]) or "-",
            f"{r['running']}/{r['capacity']}", f"{r['load']:.2f}", f"{r['heartbeat_age']:.1f}s ago", health)  # fmt: skip


__all__ = ["cluster", "worker"]
