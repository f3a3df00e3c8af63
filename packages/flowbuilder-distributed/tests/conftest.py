"""Fixtures for flowbuilder-distributed: a private redis-server, worker processes, the CLI.

* ``redis_url`` — a redis-server of this test's own on a free port of 127.0.0.1 (no
  persistence, its own temp dir), stopped afterwards. Never the machine's Redis.
* ``workers`` — starts ``flowbuilder worker`` processes against it (``workers.start(...)``)
  and kills whatever is left at the end, by PID.
* ``run_cli`` — the ``flowbuilder`` CLI as a subprocess with this folder on PYTHONPATH, so
  workers and runs can import the task functions in :mod:`remote_tasks`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).parent
CLI = [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; `bash scripts/test` installs it (apt-get install redis-server)")
    port = free_port()
    directory = tmp_path / "redis"
    directory.mkdir()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
         "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"redis-server did not start on port {port}")
        time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}/0"
    process.kill()
    process.wait(timeout=10)


def cli_environment(scratch: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["FLOWBUILDER_DISABLE_PLUGINS"] = ""
    env["PYTHONUNBUFFERED"] = "1"
    env["HOME"] = str(scratch)
    return env


class WorkerProcesses:
    """``flowbuilder worker`` processes of one test; every one is killed by PID at the end."""

    def __init__(self, url: str, scratch: Path):
        self.url = url
        self.scratch = scratch
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *options: str, concurrency: int = 2, lease: float = 2.0, env: dict[str, str] | None = None,
              ) -> subprocess.Popen[bytes]:  # fmt: skip
        log = self.scratch / f"worker-{len(self.started)}.log"
        command = [*CLI, "worker", "--store", self.url, "--concurrency", str(concurrency), "--lease", str(lease),
                   *options]  # fmt: skip
        process = subprocess.Popen(command, cwd=self.scratch, env={**cli_environment(self.scratch), **(env or {})},
                                   stdout=log.open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
        self.started.append(process)
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        return (self.scratch / f"worker-{self.started.index(process)}.log").read_text(errors="replace")

    def wait_registered(self, count: int, within: float = 20.0) -> None:
        """Wait until ``count`` live workers are in the registry."""
        import redis

        from flowbuilder_distributed.registry import NodeRegistry

        client = redis.Redis.from_url(self.url)
        try:
            deadline = time.monotonic() + within
            while len(NodeRegistry(client).live("worker")) < count:
                assert time.monotonic() < deadline, f"fewer than {count} workers registered within {within:g}s"
                time.sleep(0.05)
        finally:
            client.close()

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    return folder


@pytest.fixture
def workers(redis_url: str, scratch: Path) -> Iterator[WorkerProcesses]:
    processes = WorkerProcesses(redis_url, scratch)
    yield processes
    processes.stop_all()


def run_cli_process(scratch: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=scratch, env=cli_environment(scratch), capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
