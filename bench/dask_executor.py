"""The Dask executor: a fan-out of ``isolation: process`` python tasks, beside plain Dask and the local pool.

    .venv/bin/python bench/dask_executor.py            # 2,000 tasks
    .venv/bin/python bench/dask_executor.py --quick    # 300 tasks

Everything runs on 127.0.0.1 against a ``LocalCluster`` this script starts (2 worker
processes, 4 threads each, no dashboard) and closes at the end. Three figures, tasks per
second:

1. **Plain Dask (the floor).** ``client.submit(operator.add, 1, 2, pure=False)`` N times and
   wait for every result: what the cluster itself costs per call, with no FlowBuilder.
2. **FlowBuilder through Dask.** ``Engine(remote_workers="dask://...")`` runs a fan-out of N
   ``python`` tasks (``operator:add``, ``isolation: process``) recording into ``memory://``:
   the floor plus the runner's scheduling, the pickled task type, config and context, and
   the outcome's trip back to the loop.
3. **The local process pool** (no ``--workers``): the same workflow on the runner's own
   worker processes, for comparison.

On a 2-core machine shared with other work, the Dask workers compete with the scheduler for
the same cores: the figures measure the path's overhead, not a cluster. No figure is a test.
"""

from __future__ import annotations

import argparse
import operator
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from remote_workers import fanout_yaml, timed_run


def plain_dask(address: str, width: int) -> float:
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        client.submit(operator.add, 0, 0, pure=False).result()  # connected and warm
        started = time.perf_counter()
        futures = [client.submit(operator.add, 1, 2, pure=False) for _ in range(width)]
        assert sum(client.gather(futures)) == 3 * width
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 tasks instead of 2,000")
    width = 300 if parser.parse_args().quick else 2000
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=4, processes=True, host="127.0.0.1",
                           dashboard_address=None, worker_dashboard_address=None, silence_logs=40,
                           scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})  # fmt: skip
    try:
        url = cluster.scheduler_address.replace("tcp://", "dask://")
        workflow = fanout_yaml(width, "process")
        timed_run(fanout_yaml(8, "process"), url)  # the workers import flowrunner once, outside the figure
        floor = plain_dask(cluster.scheduler_address, width)
        through_dask = timed_run(workflow, url)
        local = timed_run(workflow, None)
    finally:
        cluster.close(timeout=30)
    print(f"fan-out of {width} python tasks (isolation: process), tasks per second")
    print(f"  plain Dask client.submit (floor)   {width / floor:9.0f}")
    print(
        f"  flowbuilder --workers dask://      {width / through_dask:9.0f}   ({through_dask / floor:.1f}x the floor's time)"
    )
    print(f"  flowbuilder local process pool     {width / local:9.0f}")


if __name__ == "__main__":  # the LocalCluster's workers are spawned: they re-import this file
    main()
