"""``flowbuilder scheduler`` and ``flowbuilder backfill``: runs started by logical time.

Both are thin: they load and check the workflows (:func:`flowbuilder.scheduler.load_scheduled_workflows`),
open the store, and hand over to :class:`flowbuilder.scheduler.Scheduler` or
:func:`flowbuilder.scheduler.backfill`, which start every run through the run service.
Progress goes to stderr, one line per event, prefixed with the UTC time.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowbuilder.cli.arguments import UTF8_TEXT, FiniteFloatRange
from flowbuilder.cli.cluster_option import cluster_options
from flowbuilder.cli.context import plugin_host
from flowbuilder.cli.registry_option import registry_options
from flowbuilder.cli.store_option import store_option
from flowbuilder.cli.workers_option import workers_option
from flowbuilder.limits import MAX_BACKFILL_PARALLEL

if TYPE_CHECKING:
    from flowbuilder.interfaces.node_announcer import NodeAnnouncer
    from flowbuilder.plugins import PluginHost


def _log(line: str) -> None:
    from datetime import datetime

    from flowbuilder.cli.terminal import echo

    stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
    echo(f"{stamp}Z {line}", err=True)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@store_option("The store the schedulers share (rocksdb://PATH, redis://HOST:PORT/DB).")
@click.option("--runner", type=UTF8_TEXT, metavar="NAME", help="Which installed runner executes the runs.")
@click.option("--consensus", type=UTF8_TEXT, default="store", show_default=True, metavar="NAME",
              help="How the active scheduler is elected: store (a lease in the store), noop (this one leads),"
                   " raft (flowbuilder-distributed: --cluster), ...")  # fmt: skip
@cluster_options
@click.option("--max-runs", type=click.IntRange(1, MAX_BACKFILL_PARALLEL), default=8, show_default=True,
              help="Runs this process executes at once; the next start waits for a slot.")  # fmt: skip
@click.option("--lease-seconds", type=FiniteFloatRange(min=0.5, max=3600), default=10.0, show_default=True,
              help="How soon a standby replaces a leader that died (store consensus); this scheduler's runs keep"
                   " their owner leases for 2/3 of it, so a new leader takes them over at once.")  # fmt: skip
@click.option("--once", is_flag=True, help="Do one round as leader, wait for its runs, and exit (for tests, cron).")
@workers_option
@registry_options
def scheduler(paths: tuple[Path, ...], store: str | None, runner: str | None, consensus: str, cluster_members: str | None,
              cluster_node: str | None, cluster_secret_file: Path | None, cluster_dir: Path | None, max_runs: int,
              lease_seconds: float, once: bool, workers: str | None, registry: str | None,
              heartbeat: float | None) -> None:  # fmt: skip
    """Start runs of the scheduled workflows in PATHS (files or folders) at their logical times.

    Runs until SIGINT or SIGTERM (exit 0; runs still going are cancelled). Several
    schedulers may share a store: one is active, the others stand by. A logical time never
    gets two runs. Missed times are caught up by each workflow's `catchup` policy.
    With `--consensus raft`, the schedulers elect over their own network: give each the
    same `--cluster`, its own `--node`, and the same secret in $FLOWBUILDER_CLUSTER_SECRET.
    With `--registry redis://...` it announces itself (leader or standby) in the registry
    that `flowbuilder cluster status` shows, and leaves it on exit.
    """
    from flowbuilder.cli.cluster_option import cluster_config
    from flowbuilder.cli.registry_option import registry_settings
    from flowbuilder.errors import ConfigurationError
    from flowbuilder.run_service import RunService
    from flowbuilder.scheduler import Scheduler, load_scheduled_workflows, new_node_id, run_lease_for

    cluster = cluster_config(cluster_members, cluster_node, cluster_secret_file, cluster_dir)
    host = plugin_host()
    workflows = load_scheduled_workflows(host, list(paths))
    engines = host.consensus_engine_classes()
    if consensus not in engines:
        raise ConfigurationError(f"unknown consensus engine {consensus!r} (installed: {', '.join(sorted(engines))})")
    engine_class = engines[consensus]
    registry_url, heartbeat_seconds = registry_settings(host, registry, heartbeat)
    runner_engine = host.make_runner(runner)
    with host.open_store(store) as opened, _announcer(host, registry_url) as announcer:
        service = RunService(host, opened, runner=runner_engine, concurrency=host.settings.concurrency,
                             workers=workers)  # fmt: skip
        node_id = cluster.node if cluster is not None else new_node_id()
        engine = engine_class.for_store(node_id, opened, lease_seconds=lease_seconds, cluster=cluster)
        active = Scheduler(
            service,
            workflows,
            engine,
            max_runs=max_runs,
            log=_log,
            run_lease_seconds=run_lease_for(lease_seconds),
            announcer=announcer,
            heartbeat_seconds=heartbeat_seconds,
            address=cluster.node if cluster else "",
        )

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, active.stop)
            await active.run(once=once)

        try:
            asyncio.run(main())
        finally:
            service.close()
    _log("scheduler stopped")


@contextmanager
def _announcer(host: PluginHost, url: str) -> Iterator[NodeAnnouncer]:
    """The node announcer of ``url``, with the configured message bus (``[bus] url``) if there is one."""
    bus_url = host.settings.section("bus").get("url")
    bus = host.open_message_bus(str(bus_url)) if bus_url else None
    try:
        with host.open_node_announcer(url, bus=bus) as announcer:
            yield announcer
    finally:
        if bus is not None:
            bus.close()


@click.command()
@click.argument("workflow", type=click.Path(path_type=Path))
@click.option(
    "--from", "start", required=True, type=UTF8_TEXT, metavar="ISO", help="First instant (2026-12-01T00:00Z)."
)
@click.option("--to", "end", required=True, type=UTF8_TEXT, metavar="ISO", help="Last instant, included.")
@click.option("--parallel", type=click.IntRange(1, MAX_BACKFILL_PARALLEL), default=1, show_default=True,
              help="Runs at once.")  # fmt: skip
@store_option("Where the runs are recorded (the scheduler's store).")
@click.option("--runner", type=UTF8_TEXT, metavar="NAME", help="Which installed runner executes the runs.")
def backfill(workflow: Path, start: str, end: str, parallel: int, store: str | None, runner: str | None) -> None:
    """Start a run for every logical time of WORKFLOW's schedule from --from to --to.

    Times that already have a run (from a scheduler or an earlier backfill) are skipped and
    listed. Exit 0 when every started run succeeded, 1 otherwise, 130 when stopped (Ctrl-C, SIGTERM: the runs going are cancelled).
    """
    from flowbuilder.errors import ConfigurationError, FlowBuilderError, RunCancelledError
    from flowbuilder.run_service import RunService
    from flowbuilder.scheduler import BackfillReport, load_scheduled_workflows
    from flowbuilder.scheduler import backfill as run_backfill
    from flowbuilder.schedules import parse_instant

    try:
        first, last = parse_instant(start), parse_instant(end)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    if not workflow.is_file():
        raise ConfigurationError(f"no workflow file {str(workflow)!r}")
    host = plugin_host()
    (scheduled,) = load_scheduled_workflows(host, [workflow])
    runner_engine = host.make_runner(runner)
    with host.open_store(store) as opened:
        service = RunService(host, opened, runner=runner_engine, concurrency=host.settings.concurrency)

        async def main() -> BackfillReport:
            # Ctrl-C or SIGTERM: start nothing more and cancel the runs going, as the scheduler
            # does, rather than wait (silently) for them to end however long they take.
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            return await run_backfill(service, scheduled, first, last, parallel=parallel, log=_log, stop=stop)

        try:
            report = asyncio.run(main())
        finally:
            service.close()
    click.echo(f"backfill of {scheduled.name}: {len(report.started)} started, {len(report.skipped)} skipped"
               f" (already run), {len(report.failed)} not succeeded")  # fmt: skip
    for outcome in report.failed:
        click.echo(f"  {outcome.logical_time}: run {outcome.run_id} {outcome.status}")
    if report.stopped:
        raise RunCancelledError("backfill stopped: later logical times were not started; `flowbuilder retry RUN_ID`"
                                " reruns a cancelled run, and running the backfill again starts the rest")  # fmt: skip
    if report.failed:
        raise FlowBuilderError("some backfilled runs did not succeed; see `flowbuilder runs list`")
