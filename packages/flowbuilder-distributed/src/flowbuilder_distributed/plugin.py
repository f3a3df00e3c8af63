"""flowbuilder-distributed's plugin, registered under ``flowbuilder.plugins`` as ``distributed``.

Each hook imports its machinery only when called, so loading the plugin costs the CLI nothing.

* ``flowbuilder_attempt_executors``: :class:`~flowbuilder_distributed.executor.RedisStreamsExecutor`
  for ``--workers redis://...``, and :class:`~flowbuilder_distributed.dask_executor.DaskExecutor`
  for ``--workers dask://HOST:PORT`` (Dask itself is imported only when that URL is used).
* ``flowbuilder_node_announcers``: :class:`~flowbuilder_distributed.announcer.RedisNodeAnnouncer`
  for ``flowbuilder scheduler --registry redis://...``.
* ``flowbuilder_cli_commands``: ``flowbuilder worker`` and ``flowbuilder cluster status``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def flowbuilder_attempt_executors() -> list[Any]:
    """``redis://`` remote workers (:mod:`flowbuilder_distributed.executor`) and ``dask://`` (an
    existing Dask cluster, :mod:`flowbuilder_distributed.dask_executor`), chosen by ``--workers URL``."""
    from flowbuilder_distributed.dask_executor import DaskExecutor
    from flowbuilder_distributed.executor import RedisStreamsExecutor

    return [RedisStreamsExecutor, DaskExecutor]


@hookimpl
def flowbuilder_message_buses() -> list[Any]:
    """The ``redis://`` message bus (Redis Streams; :mod:`flowbuilder_distributed.bus`)."""
    from flowbuilder_distributed.bus import RedisMessageBus

    return [RedisMessageBus]


@hookimpl
def flowbuilder_node_announcers() -> list[Any]:
    """``redis://``: schedulers announce themselves in the node registry (:mod:`flowbuilder_distributed.announcer`)."""
    from flowbuilder_distributed.announcer import RedisNodeAnnouncer

    return [RedisNodeAnnouncer]


@hookimpl
def flowbuilder_consensus_engines() -> list[Any]:
    """``raft``: schedulers elect their leader with pysyncobj (imported when the engine starts)."""
    from flowbuilder_distributed.raft import RaftConsensus

    return [RaftConsensus]


@hookimpl
def flowbuilder_cli_commands(cli: click.Group) -> None:
    """``flowbuilder worker`` and ``flowbuilder cluster status|send|broadcast|publish|request|listen``."""
    from flowbuilder_distributed.bus_commands import add_bus_commands
    from flowbuilder_distributed.cli import cluster, worker

    cli.add_command(worker)
    cli.add_command(cluster)
    add_bus_commands(cli)  # joins the `cluster` group just added
