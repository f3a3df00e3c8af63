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

from flowbuilder_distributed._version import __version__

__all__ = ["__version__"]
