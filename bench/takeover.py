"""Benchmark: scheduler failover time, as a distribution over repeated kills of the leader.

    python bench/takeover.py                         # 10 kills, --lease-seconds 1.5, Redis (own server)
    python bench/takeover.py --kills 20 --lease-seconds 3 --json

Two ``flowbuilder scheduler`` processes (``store`` consensus) share a Redis store of the
benchmark's own (a redis-server on a free port of 127.0.0.1, no persistence). Each round
starts a long run on the leader (a run-finished trigger on ``kick``, which the benchmark runs),
waits until it has recorded a task, SIGKILLs the leader and starts a fresh standby, then
reads from the new leader's log:

* **elected**: from the kill to the standby's ``leading since`` — bounded by the leadership
  lease (``--lease-seconds``; the standby polls every third of it);
* **taken over**: from ``leading since`` to ``took over run`` — the takeover itself (issue
  12.3's bound: within 3 s of leading): the scan for interrupted runs of its scope and the
  resume through the run service;
* **run done**: whether every taken-over run then succeeded.

The floor beside them is the lease arithmetic: a standby that polls every third of the lease
leads between 2/3 and 4/3 of the lease after the leader's last renewal. Times are wall clock
from log stamps (milliseconds) and the kill; the machine's load moves them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from _private_redis import private_redis

TASKS = 8


def cli() -> list[str]:
    script = Path(sys.executable).with_name("flowbuilder")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}


class Scheduler:
    def __init__(self, folder: Path, store: str, lease: float):
        self.process = subprocess.Popen([*cli(), "scheduler", "long.yaml", "--store", store, "--lease-seconds",
                                         str(lease)], cwd=folder, env=environment(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, after: int = 0, timeout: float = 60.0) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, line in enumerate(list(self.lines)[after:], start=after):
                if text in line:
                    return index, line
            time.sleep(0.01)
        raise SystemExit(f"no {text!r} within {timeout}s:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def stamp(line: str) -> float:
    return datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00")).timestamp()


def write_workflows(folder: Path) -> None:
    tasks = []
    for n in range(1, TASKS + 1):
        needs = f", depends_on: [t{n - 1}]" if n > 1 else ""
        tasks.append(
            f"  - {{name: t{n}, type: shell{needs}, config: {{command: 'sleep 0.3; echo t{n} >> done.txt'}}}}\n"
        )
    (folder / "long.yaml").write_text("name: long\non: {run_finished: {workflow: kick}}\ntasks:\n" + "".join(tasks))
    (folder / "kick.yaml").write_text("name: kick\ntasks:\n  - {name: go, type: shell, config: {command: 'true'}}\n")


def rounds(kills: int, lease: float) -> dict[str, Any]:
    elected: list[float] = []
    taken: list[float] = []
    succeeded = 0
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        write_workflows(folder)
        server = private_redis(folder)
        store = server.url
        schedulers: list[Scheduler] = []
        try:
            leader = Scheduler(folder, store, lease)
            schedulers.append(leader)
            leader.wait_for("leading since")
            standby = Scheduler(folder, store, lease)
            schedulers.append(standby)
            standby.wait_for("standby: waiting")
            for _ in range(kills):
                done = folder / "done.txt"
                done.unlink(missing_ok=True)
                seen = len(leader.lines)
                subprocess.run([*cli(), "run", "kick.yaml", "--store", store], cwd=folder, env=environment(),
                               capture_output=True, timeout=60, check=True)  # fmt: skip
                leader.wait_for("started run", after=seen)
                while not (done.exists() and done.read_text().split()):
                    time.sleep(0.01)
                killed_at = time.time()
                leader.process.send_signal(signal.SIGKILL)
                leader.process.wait(timeout=30)
                _, leading = standby.wait_for("leading since")
                index, took = standby.wait_for("took over run")
                elected.append(stamp(leading) - killed_at)
                taken.append(stamp(took) - stamp(leading))
                standby.wait_for("(taken over) succeeded", after=index)
                succeeded += 1
                leader, standby = standby, Scheduler(folder, store, lease)
                schedulers.append(standby)
                standby.wait_for("standby: waiting")
        finally:
            for scheduler in schedulers:
                scheduler.stop()
            server.stop()
    return {
        "lease_seconds": lease,
        "kills": kills,
        "elected": elected,
        "taken_over": taken,
        "runs_completed": succeeded,
    }


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"min {ordered[0]:.3f}  median {statistics.median(ordered):.3f}  p90 {p90:.3f}  "
            f"max {ordered[-1]:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--lease-seconds", type=float, default=1.5)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    report = rounds(options.kills, options.lease_seconds)
    if options.json:
        print(json.dumps(report, indent=1))
        return
    lease = options.lease_seconds
    print(f"{options.kills} kills of the leader, --lease-seconds {lease:g}, Redis store; seconds")
    print(f"kill -> new leader:         {describe(report['elected'])}")
    print(f"  floor (lease arithmetic): {2 * lease / 3:.3f} .. {4 * lease / 3:.3f}")
    print(f"new leader -> run taken:    {describe(report['taken_over'])}   (issue 12.3 bound: 3.000)")
    print(f"taken-over runs that completed: {report['runs_completed']}/{options.kills}")


if __name__ == "__main__":
    main()
