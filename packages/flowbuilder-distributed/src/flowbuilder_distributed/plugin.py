"""flowbuilder-distributed's plugin, registered under ``flowbuilder.plugins`` as ``distributed``.

Each hook imports its machinery only when called, so loading the plugin costs the CLI nothing.

* ``flowbuilder_attempt_executors``: :class:`~flowbuilder_distributed.executor.RedisStreamsExecutor`
  for ``--workers redis://...``.
* ``flowbuilder_cli_commands``: ``flowbuilder worker`` and ``flowbuilder cluster status``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def flowbuilder_attempt_executors() -> list[Any]:
    from flowbuilder_distributed.executor import RedisStreamsExecutor

    return [RedisStreamsExecutor]


@hookimpl
def flowbuilder_cli_commands(cli: click.Group) -> None:
    from flowbuilder_distributed.cli import cluster, worker

    cli.add_command(worker)
    cli.add_command(cluster)
