"""A LocalCluster in a process of its own, to kill mid-run: prints its scheduler address, then waits.

Run as ``python dask_cluster_process.py``; the test starts it in a new session and kills the
whole process group (scheduler and workers) by its id.
"""

from __future__ import annotations

import time

if __name__ == "__main__":  # the workers are spawned: they re-import this file
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                           dashboard_address=None, worker_dashboard_address=None, silence_logs=40,
                           scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})  # fmt: skip
    print(cluster.scheduler_address, flush=True)
    time.sleep(600)  # bounded: the test kills it long before
