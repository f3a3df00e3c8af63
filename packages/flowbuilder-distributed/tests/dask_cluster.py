"""A real Dask ``LocalCluster`` on 127.0.0.1 for the Dask executor's tests (or a skip saying why).

Worker *processes* (not threads), no dashboard, no nanny: the attempts really leave the test's
process, and closing the cluster ends every process it started.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest


def where_am_i() -> int:
    """The pid of the process that runs it (``client.run(where_am_i)`` lists the workers')."""
    return os.getpid()


def local_cluster(workers: int = 2) -> Iterator[Any]:
    """Start a LocalCluster (the extra's ``distributed`` must be installed, else the test skips)."""
    distributed = pytest.importorskip(
        "distributed", reason="Dask's distributed is not installed: pip install 'flowbuilder-distributed[dask]'"
    )
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=4, processes=True, host="127.0.0.1", dashboard_address=None,
        scheduler_port=0, worker_dashboard_address=None, silence_logs=40,
        # the scheduler always serves /health and /metrics: on a free port of 127.0.0.1, not 8787
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )  # fmt: skip
    try:
        yield cluster
    finally:
        cluster.close(timeout=20)
