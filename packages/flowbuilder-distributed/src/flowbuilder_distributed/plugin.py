"""flowbuilder-distributed's plugin, registered under ``flowbuilder.plugins`` as ``distributed``.

Each hook imports its machinery only when called, so loading the plugin costs the CLI nothing.
"""

from __future__ import annotations

from typing import Any

from flowbuilder import hookimpl


@hookimpl
def flowbuilder_message_buses() -> list[Any]:
    """The ``redis://`` message bus (Redis Streams; :mod:`flowbuilder_distributed.bus`)."""
    from flowbuilder_distributed.bus import RedisMessageBus

    return [RedisMessageBus]


@hookimpl
def flowbuilder_cli_commands(cli: Any) -> None:
    """``flowbuilder cluster send|broadcast|publish|request|listen`` (:mod:`flowbuilder_distributed.bus_commands`)."""
    from flowbuilder_distributed.bus_commands import add_bus_commands

    add_bus_commands(cli)


@hookimpl
def flowbuilder_consensus_engines() -> list[Any]:
    """``raft``: schedulers elect their leader with pysyncobj (imported when the engine starts)."""
    from flowbuilder_distributed.raft import RaftConsensus

    return [RaftConsensus]
