"""Leader failover of a whole local cluster, during runs: kill -9 the Raft leader again and again.

    python bench/cluster_failover.py                  # 20 kills (issue 12's fault test)
    python bench/cluster_failover.py --kills 3 --json

The cluster is examples/cluster's (a private redis-server, three ``flowbuilder scheduler
--consensus raft --workers redis://...`` processes, two ``flowbuilder worker`` processes); its
fan-out workflow starts every 3 s and each run takes a few seconds, so every kill lands
while runs are going. Each round: SIGKILL the current leader, time until another scheduler
logs ``leading since`` (its UTC stamp; same machine clock), restart the killed one (it
rejoins as a follower with its Raft journal), wait a little, go again.

Afterwards every run started before the last kill must finish ``succeeded`` (a killed
leader's runs are taken over and resumed by the next one), each task of each run recorded
``task_succeeded`` exactly once, and the fencing tokens on a run's ``run_started`` events
must grow (each resume is fenced by a newer leader's term; the store refuses a smaller one).

The floor printed beside the distribution is the election timeout T = 1.0 s: a follower
stands after T to 2T without heartbeats, so no takeover can be faster than T; the rest is
the vote, the confirmation and the scheduler noticing (it looks every 0.5 s at most).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "cluster"))

from cluster import Cluster  # noqa: E402

ELECTION_TIMEOUT = 1.0
"""The raft engine's default election timeout (``RaftTiming``), the floor of every takeover."""
SETTLE_SECONDS = 120.0
"""How long the runs started before the last kill may take to finish afterwards."""


def write_workflow(folder: Path, parts: int, seconds: float) -> Path:
    """A fan-out like the example's whose tasks last ``seconds``, so kills land mid-run."""
    lines = ["name: failover-fanout", "schedule: {every: 3s, catchup: latest}", "tasks:"]
    for part in range(parts):
        lines += [f"  - name: part_{part}", "    type: python",
                  f"    config: {{callable: 'cluster_tasks:where', isolation: thread, args: [{part}, {seconds}]}}"]  # fmt: skip
    path = folder / "failover-fanout.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def kill_leaders(cluster: Cluster, kills: int, pause: tuple[float, float], rng: random.Random) -> list[float]:
    """Kill the leader ``kills`` times; the seconds from each kill to the successor's claim."""
    takeovers = []
    for _ in range(kills):
        time.sleep(rng.uniform(*pause))
        leader = cluster.current_leader()
        assert leader is not None, "nobody leads"
        killed_at = cluster.kill(leader)
        _, claimed_at = cluster.wait_for_new_leader(leader, killed_at)
        takeovers.append(max(0.0, claimed_at - killed_at))
        cluster.restart(leader)
    return takeovers


def check_runs(store_url: str, workflow: str, started_before: float) -> dict[str, Any]:
    """Wait for the runs created before ``started_before`` to finish; what they recorded."""
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    host = build_plugin_host(Settings())
    with host.open_store(store_url, create=False) as store:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            runs = [run for run in store.list_runs(workflow=workflow, limit=1000).runs
                    if run.created_at < started_before]  # fmt: skip
            if all(run.finished_at is not None for run in runs) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        report: dict[str, Any] = {"runs": len(runs), "statuses": Counter(), "twice_recorded": [], "taken_over": 0,
                                  "tokens_not_growing": []}  # fmt: skip
        for run in runs:
            report["statuses"][run.status.value] += 1
            events = list(store.read_events(run.run_id))
            successes = Counter(event.task for event in events if event.kind.value == "task_succeeded")
            report["twice_recorded"] += [f"{run.run_id}:{task}" for task, count in successes.items() if count != 1]
            tokens = [int(event.data["fence"]["token"]) for event in events
                      if event.kind.value == "run_started" and event.data.get("fence")]  # fmt: skip
            report["taken_over"] += len(tokens) > 1
            if tokens != sorted(set(tokens)):
                report["tokens_not_growing"].append(run.run_id)
        report["statuses"] = dict(report["statuses"])
        return report


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--parts", type=int, default=8, help="tasks per run")
    parser.add_argument("--task-seconds", type=float, default=0.5, help="how long each task sleeps")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flowbuilder-cluster-failover-") as scratch:
        folder = Path(scratch)
        workflow = write_workflow(folder, options.parts, options.task_seconds)
        (folder / "cluster").mkdir()
        cluster = Cluster(folder / "cluster", workflow=workflow)
        try:
            cluster.start()
            takeovers = kill_leaders(cluster, options.kills, (1.5, 3.0), random.Random(options.seed))
            last_kill = time.time()
            report = check_runs(cluster.redis_url, "failover-fanout", last_kill)
        finally:
            cluster.stop()
    result = {"kills": len(takeovers), "takeover_seconds": takeovers, "floor_election_timeout": ELECTION_TIMEOUT,
              "min": min(takeovers), "median": statistics.median(takeovers), "p90": percentile(takeovers, 0.9),
              "max": max(takeovers), "within_3s": sum(t <= 3.0 for t in takeovers), **report}  # fmt: skip
    if options.json:
        print(json.dumps(result))
    else:
        print(f"kill -9 of the raft leader, {result['kills']} times during runs (3 schedulers, 2 workers, Redis)")
        print(
            f"  kill -> new leader: min {result['min']:.2f}s  median {result['median']:.2f}s"
            f"  p90 {result['p90']:.2f}s  max {result['max']:.2f}s   (floor: election timeout {ELECTION_TIMEOUT:.1f}s)"
        )
        print(f"  within 3 s: {result['within_3s']}/{result['kills']}")
        print(
            f"  runs started before the last kill: {result['runs']} {result['statuses']};"
            f" taken over by a new leader: {result['taken_over']}"
        )
        print(
            f"  tasks recorded other than once: {len(result['twice_recorded'])};"
            f" runs whose fences did not grow: {len(result['tokens_not_growing'])}"
        )
    clean = not result["twice_recorded"] and not result["tokens_not_growing"]
    return 0 if clean and set(result["statuses"]) <= {"succeeded"} else 1


if __name__ == "__main__":
    sys.exit(main())
