"""flowbuilder-distributed's plugin, registered under ``flowbuilder.plugins`` as ``distributed``.

Each hook imports its machinery only when called, so loading the plugin costs the CLI nothing.
"""

from __future__ import annotations

from typing import Any

from flowbuilder import hookimpl


@hookimpl
def flowbuilder_consensus_engines() -> list[Any]:
    """``raft``: schedulers elect their leader with pysyncobj (imported when the engine starts)."""
    from flowbuilder_distributed.raft import RaftConsensus

    return [RaftConsensus]
