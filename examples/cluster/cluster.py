"""A FlowBuilder cluster on 127.0.0.1 in one command: Redis, three Raft schedulers, two workers.

    python examples/cluster/cluster.py            # start, run the fan-out once, show it, stop
    python examples/cluster/cluster.py --hold     # ... and keep the cluster up until Ctrl-C

Why a launcher and not a compose file: every piece is a plain process of this machine
(``redis-server``, ``flowbuilder scheduler``, ``flowbuilder worker``), started with the
options an operator would use on real machines, so the example shows the real commands.
Everything it starts is recorded by PID and stopped (SIGTERM, then SIGKILL) when it ends,
also on Ctrl-C or SIGTERM; its folder (Redis data, Raft journals, the secret, the logs) is
removed unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKFLOW = HERE / "fanout.yaml"
WORKFLOW_NAME = "cluster-fanout"
CLI = [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]
STARTUP_WAIT = 60.0
"""Seconds to wait for Redis, a leader, the workers or the first run (a loaded machine is slow)."""
SPREAD_WAIT = 30.0
"""Seconds to wait for a run whose parts ran on more than one worker (see ``wait_for_run``)."""


class ClusterError(Exception):
    """Something the launcher needs did not happen; the message says what, in one line."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_secret(path: Path) -> None:
    """The schedulers' shared Raft secret, readable by this user only (0600 from creation)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as secret_file:
        secret_file.write(secrets.token_urlsafe(32) + "\n")


class Cluster:
    """The processes of one local cluster; :meth:`stop` ends each of them by its PID."""

    def __init__(self, folder: Path, *, workers: int = 2, schedulers: int = 3, redis_server: str = "redis-server",
                 workflow: Path = WORKFLOW, scheduler_options: tuple[str, ...] = ()):  # fmt: skip
        self.folder = folder
        self.workflow = workflow
        self.scheduler_options = scheduler_options
        self.worker_count = workers
        self.scheduler_count = schedulers
        self.redis_server = redis_server
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, list[str]] = {}
        self.killed: set[str] = set()
        self.redis_url = ""

    # -- starting ---------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
        env["PYTHONUNBUFFERED"] = "1"
        self.commands[name] = command
        with (self.folder / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(command, cwd=self.folder, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def start(self) -> None:
        self._start_redis()
        self._start_schedulers()
        self._start_workers()
        self.wait_for_leader()
        self.wait_for_workers()
        self.wait_for_registry()

    def _start_redis(self) -> None:
        if shutil.which(self.redis_server) is None:
            raise ClusterError(
                f"{self.redis_server} is not installed (apt install redis-server, or brew install redis)"
            )
        port = free_port()
        data = self.folder / "redis"
        data.mkdir()
        self._spawn("redis", [self.redis_server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data),
                              "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"])  # fmt: skip
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + STARTUP_WAIT
        while not _redis_answers(port):
            if self.processes["redis"].poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"redis-server did not start on 127.0.0.1:{port}: {self.log('redis')[-300:]}")
            time.sleep(0.05)

    def _start_schedulers(self) -> None:
        secret = self.folder / "cluster.secret"
        write_secret(secret)
        addresses = [f"127.0.0.1:{free_port()}" for _ in range(self.scheduler_count)]
        for index, address in enumerate(addresses):
            self._spawn(f"scheduler-{index + 1}", [
                *CLI, "scheduler", str(self.workflow), "--store", self.redis_url, "--workers", self.redis_url,
                "--consensus", "raft", "--cluster", ",".join(addresses), "--node", address,
                "--cluster-secret-file", str(secret), "--cluster-dir", str(self.folder / "raft"),
                "--registry", self.redis_url, "--heartbeat", "1",  # `cluster status` lists it, leader or standby
                *self.scheduler_options,
            ])  # fmt: skip

    def _start_workers(self) -> None:
        for index in range(self.worker_count):
            self._spawn(f"worker-{index + 1}", [*CLI, "worker", "--store", self.redis_url, "--concurrency", "2",
                                                "--heartbeat", "1", "--lease", "10"])  # fmt: skip

    # -- watching ---------------------------------------------------------------------------

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if name not in self.killed and process.poll() is not None:
                last = self.log(name).strip().splitlines()[-1:] or ["(no output)"]
                raise ClusterError(f"{name} exited with status {process.returncode}: {last[0]}")

    def wait_for_leader(self) -> str:
        deadline = time.monotonic() + STARTUP_WAIT
        while (leader := self.current_leader()) is None:
            self._check_alive()
            if time.monotonic() > deadline:
                raise ClusterError(f"no scheduler became leader within {STARTUP_WAIT:g}s (see {self.folder})")
            time.sleep(0.1)
        return leader

    def status(self, *, as_json: bool = False) -> str:
        done = subprocess.run([*CLI, "cluster", "status", "--store", self.redis_url, *(["--json"] if as_json else [])],
                              capture_output=True, text=True, timeout=STARTUP_WAIT)  # fmt: skip
        if done.returncode != 0:
            raise ClusterError(f"flowbuilder cluster status failed: {done.stderr.strip()}")
        return done.stdout

    def worker_pids(self) -> dict[int, str]:
        return {process.pid: name for name, process in self.processes.items() if name.startswith("worker-")}

    def wait_for_workers(self) -> None:
        deadline = time.monotonic() + STARTUP_WAIT
        while True:
            nodes = json.loads(self.status(as_json=True))["nodes"]
            live = {node["pid"] for node in nodes if node.get("kind") == "worker" and node.get("health") == "alive"}
            if set(self.worker_pids()) <= {int(pid) for pid in live}:
                return
            self._check_alive()
            if time.monotonic() > deadline:
                raise ClusterError(f"the workers did not register within {STARTUP_WAIT:g}s (see {self.folder})")
            time.sleep(0.2)

    def wait_for_registry(self) -> None:
        """Until the registry shows every live scheduler, exactly one of them the leader."""
        deadline = time.monotonic() + STARTUP_WAIT
        while True:
            nodes = json.loads(self.status(as_json=True))["nodes"]
            live = [node for node in nodes if node.get("kind") == "scheduler" and node.get("health") == "alive"]
            if len(live) == len(self.scheduler_names()) and [n["role"] for n in live].count("leader") == 1:
                return
            self._check_alive()
            if time.monotonic() > deadline:
                raise ClusterError(f"the schedulers did not show in the registry within {STARTUP_WAIT:g}s"
                                   f" (see {self.folder})")  # fmt: skip
            time.sleep(0.2)

    def wait_for_run(self) -> tuple[str, str, dict[str, Any]]:
        """A finished run of the fan-out: its id, its status and each task's output.

        The first one whose parts ran on more than one worker, when one finishes within
        :data:`SPREAD_WAIT` (the fan-out runs every 3 s): a worker still starting up, or slowed
        by a busy machine, may leave a whole early run to the other one. Otherwise the first
        finished run, whatever it shows.
        """
        from flowbuilder.config import Settings
        from flowbuilder.plugins import build_plugin_host

        host = build_plugin_host(Settings())
        started = time.monotonic()
        with host.open_store(self.redis_url, create=False) as store:
            while True:
                finished = sorted((run for run in store.list_runs(workflow=WORKFLOW_NAME, limit=50).runs
                                   if run.finished_at is not None), key=lambda summary: summary.created_at)  # fmt: skip
                shown = []
                for run in finished:
                    outputs = {event.task: event.data.get("output") for event in store.read_events(run.run_id)
                               if event.kind.value == "task_succeeded"}  # fmt: skip
                    shown.append((run, outputs))
                    pids = {
                        output["pid"] for output in outputs.values() if isinstance(output, dict) and "pid" in output
                    }
                    if len(pids) >= min(2, self.worker_count):
                        return run.run_id, run.status.value, outputs
                if shown and time.monotonic() - started > SPREAD_WAIT:
                    run, outputs = shown[0]
                    return run.run_id, run.status.value, outputs
                self._check_alive()
                if time.monotonic() - started > STARTUP_WAIT:
                    raise ClusterError(f"no run of {WORKFLOW_NAME} finished within {STARTUP_WAIT:g}s")
                time.sleep(0.2)

    def scheduler_names(self, *, alive: bool = True) -> list[str]:
        return [name for name, process in self.processes.items()
                if name.startswith("scheduler-") and (not alive or process.poll() is None)]  # fmt: skip

    def leadership_claims(self, name: str) -> list[float]:
        """The Unix times at which scheduler ``name`` said "leading since" (its log's UTC stamps)."""
        from datetime import datetime

        claims = []
        for line in self.log(name).splitlines():
            if "leading since" in line:
                claims.append(datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00")).timestamp())
        return claims

    def current_leader(self) -> str | None:
        """The live scheduler that most recently claimed leadership."""
        claims = [(self.leadership_claims(name)[-1], name) for name in self.scheduler_names()
                  if self.leadership_claims(name)]  # fmt: skip
        return max(claims)[1] if claims else None

    def kill(self, name: str) -> float:
        """SIGKILL one process; the Unix time of the kill."""
        process = self.processes[name]
        self.killed.add(name)
        killed_at = time.time()
        process.kill()
        process.wait(timeout=STARTUP_WAIT)
        return killed_at

    def pause(self, name: str) -> None:
        """SIGSTOP one process (a frozen machine, a partition); :meth:`resume` continues it."""
        self.killed.add(name)  # it may exit once it continues (a deposed scheduler stops)
        self.processes[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGCONT)

    def restart(self, name: str) -> None:
        """Start a process again with the command it was first started with (same node, same files).

        A scheduler is waited for until it follows a leader again: until then the cluster has
        one member fewer, and a leader killed meanwhile could not be replaced (no majority).
        """
        log_size = (self.folder / f"{name}.log").stat().st_size
        self._spawn(name, self.commands[name])
        self.killed.discard(name)
        if name.startswith("scheduler-"):
            self._wait_until_following(name, log_size)

    def _wait_until_following(self, name: str, log_offset: int) -> None:
        deadline = time.monotonic() + STARTUP_WAIT
        while True:
            since_restart = (self.folder / f"{name}.log").read_bytes()[log_offset:].decode("utf-8", "replace")
            if "leading since" in since_restart or any(
                "standby: waiting for leadership" in line and "active scheduler: unknown" not in line
                for line in since_restart.splitlines()
            ):
                return
            self._check_alive()
            if time.monotonic() > deadline:
                raise ClusterError(f"{name} did not rejoin the cluster within {STARTUP_WAIT:g}s (see {self.folder})")
            time.sleep(0.05)

    def wait_for_new_leader(self, killed: str, after: float) -> tuple[str, float]:
        """The first live scheduler other than ``killed`` that claimed leadership after ``after``, and when."""
        deadline = time.monotonic() + STARTUP_WAIT
        while True:
            claims = [(claim, name) for name in self.scheduler_names() if name != killed
                      for claim in self.leadership_claims(name) if claim > after]  # fmt: skip
            if claims:
                claim, name = min(claims)
                return name, claim
            self._check_alive()
            if time.monotonic() > deadline:
                raise ClusterError(f"no scheduler took over from {killed} within {STARTUP_WAIT:g}s")
            time.sleep(0.05)

    # -- stopping ---------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM every process this cluster started (workers first, Redis last), then SIGKILL stragglers."""
        order = sorted(self.processes, key=lambda name: (name == "redis", name.startswith("scheduler-")))
        for name in order:
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)  # a stopped process would not act on SIGTERM
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def show_run(cluster: Cluster, run_id: str, status: str, outputs: dict[str, Any]) -> None:
    pids = cluster.worker_pids()
    print(f"run {run_id} of {WORKFLOW_NAME}: {status}")
    for task in sorted(outputs):
        output = outputs[task]
        if isinstance(output, dict) and "pid" in output:
            print(f"  {task:8} ran on {pids.get(int(output['pid']), '?')} (pid {output['pid']})")
        else:
            print(f"  {task:8} {output!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hold", action="store_true", help="keep the cluster up after the demo, until Ctrl-C")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's folder (logs, data) afterwards")
    parser.add_argument("--dir", type=Path, help="where the cluster keeps its files (default: a new temporary folder)")
    parser.add_argument("--redis-server", default="redis-server", help="the redis-server program to run")
    options = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="flowbuilder-cluster-", dir=options.dir))
    for stop_signal in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a background job starts with it ignored
        signal.signal(stop_signal, _stop_on_signal)
    cluster = Cluster(folder, redis_server=options.redis_server)
    try:
        print(f"starting Redis, 3 schedulers and 2 workers on 127.0.0.1 (files in {folder}) ...", flush=True)
        cluster.start()
        print(f"store and workers: {cluster.redis_url}; leader: {cluster.current_leader()}", flush=True)
        run_id, status, outputs = cluster.wait_for_run()
        show_run(cluster, run_id, status, outputs)
        cluster.wait_for_registry()  # a leadership that just moved shows at the next heartbeat
        print("\n$ flowbuilder cluster status --store " + cluster.redis_url)
        print(cluster.status(), end="", flush=True)
        if options.hold:
            print("\nthe cluster is up; Ctrl-C stops it", flush=True)
            while True:
                time.sleep(1)
                cluster._check_alive()
        return 0 if status == "succeeded" else 1
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()
        print("stopped every process the cluster started", flush=True)
        if not options.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
