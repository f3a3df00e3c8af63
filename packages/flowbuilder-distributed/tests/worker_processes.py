"""``flowbuilder worker`` processes and CLI calls for the tests, with this folder on PYTHONPATH.

Workers and runs started here can import :mod:`remote_tasks` (the tests' task functions).
Every process a test starts is killed by PID when the test ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
CLI = [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def cli_environment(scratch: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
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
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=self.scratch, env={**cli_environment(self.scratch), **(env or {})},
                                       stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
        self.started.append(process)
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        return (self.scratch / f"worker-{self.started.index(process)}.log").read_text(errors="replace")

    def wait_registered(self, count: int, within: float = 30.0) -> None:
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


def run_cli_process(scratch: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=scratch, env=cli_environment(scratch), capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
