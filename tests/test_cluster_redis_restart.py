"""Redis killed and restarted under a run on remote workers (issue 12's fault tests).

One redis-server of the test's own is the store and the workers' queue. Mid-run it is
killed with SIGKILL and started again on the same port and folder:

* with AOF (``appendonly yes``, ``appendfsync always``) it comes back with everything it
  acknowledged: the run recovers and every task is recorded exactly once;
* without persistence it comes back empty: the run fails with one line that names the lost
  run (the store's ``RunDataLostError``), and nothing reads as succeeded.

The workers exit when they lose Redis (one line, exit 1, documented); here, as under a
supervisor (systemd ``Restart=always``), a worker that exited is started again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowbuilder_contracts.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
TASKS_MODULE_DIR = ROOT / "examples" / "cluster"
CLI = [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]
WAIT = 60.0
PARTS = 16

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def _environment(scratch: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TASKS_MODULE_DIR), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["HOME"] = str(scratch)
    return env


class SupervisedWorkers:
    """Two ``flowbuilder worker`` processes; one that exits is started again (until :meth:`stop`)."""

    def __init__(self, url: str, scratch: Path, count: int = 2):
        self.url = url
        self.scratch = scratch
        self.processes: list[subprocess.Popen[bytes]] = []
        self.slots = [self._spawn(index) for index in range(count)]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)
        self._thread.start()

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        with (self.scratch / f"worker-{index}.log").open("ab") as log:
            process = subprocess.Popen([*CLI, "worker", "--store", self.url, "--concurrency", "2", "--lease", "3",
                                        "--heartbeat", "0.5"], cwd=self.scratch, env=_environment(self.scratch),
                                       stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        self.processes.append(process)
        return process

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            for index, process in enumerate(self.slots):
                if process.poll() is not None:
                    time.sleep(0.3)  # as a supervisor's restart delay: Redis may still be coming back
                    self.slots[index] = self._spawn(index)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=WAIT)
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=WAIT)


@pytest.fixture(params=[True, False], ids=["aof", "no-persistence"])
def redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server on a port and folder of its own that the test kills and starts again."""
    with RedisServer(tmp_path / "redis", appendonly=request.param) as server:
        yield server


def write_fan_out(folder: Path) -> Path:
    lines = ["name: redis-restart", "tasks:"]
    for part in range(PARTS):
        lines += [f"  - name: part_{part}", "    type: python",
                  f"    config: {{callable: 'cluster_tasks:where', isolation: thread, args: [{part}, 1.0]}}"]  # fmt: skip
    path = folder / "redis-restart.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stored_runs(url: str) -> list[tuple[str, Counter[str]]]:
    """Each stored run's status and how often each task was recorded succeeded."""
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    host = build_plugin_host(Settings())
    with host.open_store(url, create=False) as store:
        return [(run.status.value, Counter(event.task for event in store.read_events(run.run_id)
                                           if event.kind.value == "task_succeeded"))
                for run in store.list_runs(limit=100).runs]  # fmt: skip


@pytest.mark.timeout(180)
def test_a_redis_restart_mid_run_recovers_with_aof_and_fails_naming_the_lost_run_without(
    redis: RedisServer, tmp_path: Path
) -> None:
    persistent = redis.appendonly
    scratch = tmp_path / "work"
    scratch.mkdir()
    workflow = write_fan_out(scratch)
    workers = SupervisedWorkers(redis.url, scratch)
    events_file = scratch / "events.jsonl"
    try:
        with events_file.open("w") as out:
            run = subprocess.Popen([*CLI, "run", str(workflow), "--json", "--store", redis.url, "--workers", redis.url],
                                   cwd=scratch, env=_environment(scratch), stdout=out, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        deadline = time.monotonic() + WAIT
        while sum(sum(successes.values()) for _, successes in stored_runs(redis.url)) < 2:
            assert run.poll() is None and time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.05)
        redis.stop(kill=True)
        time.sleep(0.5)
        redis.start()
        _, stderr = run.communicate(timeout=float(os.environ.get("CLUSTER_RUN_WAIT", "150")))
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=WAIT)
        workers.stop()
    assert "Traceback" not in stderr, stderr
    runs = stored_runs(redis.url)
    if persistent:
        assert run.returncode == 0, stderr
        [(status, successes)] = runs
        assert status == "succeeded" and successes == Counter({f"part_{n}": 1 for n in range(PARTS)}), runs
    else:
        assert run.returncode == 1, stderr
        *outage, last = stderr.strip().splitlines()
        assert all("; retrying" in line for line in outage), stderr  # the outage, one line per failed read
        assert last.startswith("error: ") and "lost run" in last, stderr
        assert "(the server restarted without persistence)" in last, last
        assert all(status != "succeeded" for status, _ in runs), runs
    printed = [json.loads(line) for line in events_file.read_text().splitlines() if line.startswith("{")]
    finished = [event["data"]["status"] for event in printed if event["kind"] == "run_finished"]
    assert finished == (["succeeded"] if persistent else []), finished
