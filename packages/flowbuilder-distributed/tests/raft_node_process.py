"""One Raft node in a process of its own, for the multi-process tests and bench/failover.py.

    python raft_node_process.py --node HOST:PORT --cluster HOST:PORT,... [--election-timeout T]

The secret comes from $FLOWBUILDER_CLUSTER_SECRET. Every 20 ms it prints one JSON line:
``{"at": <monotonic>, "leading": bool, "token": int|null, "leader": str|null}`` (CLOCK_MONOTONIC
is one clock for every process of the machine, so a harness can compare the times).
A ConfigurationError prints its message on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.consensus import CLUSTER_SECRET_ENV, ClusterConfig
from flowbuilder_distributed.raft import RaftConsensus, RaftTiming

STATUS_SECONDS = 0.02


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--election-timeout", type=float, default=1.0)
    args = parser.parse_args()
    try:
        cluster = ClusterConfig(node=args.node, members=tuple(args.cluster.split(",")),
                                secret=os.environ.get(CLUSTER_SECRET_ENV) or None)  # fmt: skip
        engine = RaftConsensus(args.node, cluster, timing=RaftTiming(args.election_timeout))
        engine.start()
    except ConfigurationError as error:
        print(error, file=sys.stderr, flush=True)
        return 2
    while True:
        line = {"at": time.monotonic(), "leading": engine.is_leader(), "token": engine.fencing_token(),
                "leader": engine.leader()}  # fmt: skip
        print(json.dumps(line), flush=True)
        time.sleep(STATUS_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
