"""flowbuilder-distributed: FlowBuilder across processes and machines.

* ``raft`` consensus (pysyncobj): schedulers elect one leader, which dispatches; the others
  stand by and take over its runs when it dies.
* remote workers (``flowbuilder worker``): attempts reach them through Redis Streams
  consumer groups, acknowledged once their result is recorded and reclaimed from workers
  that die.
* a cluster event bus over Redis (messages, broadcast, topics, request/reply) and the node
  registry built on it (``flowbuilder cluster status``).

Everything here plugs into core's seams (consensus engine, attempt executor, run service);
no scheduling rule is copied. Drivers (pysyncobj, redis) load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder_distributed._version import __version__

if TYPE_CHECKING:
    from flowbuilder_distributed.raft import RaftConsensus, RaftTiming


def __getattr__(name: str) -> Any:
    """The public classes, imported on first use: loading the plugin (this package) stays free."""
    if name in ("RaftConsensus", "RaftTiming"):
        from flowbuilder_distributed import raft

        return getattr(raft, name)
    raise AttributeError(f"module 'flowbuilder_distributed' has no attribute {name!r}")


__all__ = ["RaftConsensus", "RaftTiming", "__version__"]
