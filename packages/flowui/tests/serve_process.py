"""A real ``flowbuilder serve`` process on a free 127.0.0.1 port (``--port 0``; the URL is read
from its first stderr line), stopped by PID at the end."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))


class ServeProcess:
    def __init__(self, store_url: str, cwd: Path, *extra: str) -> None:
        self.store_url = store_url
        self.stderr_path = cwd / f"serve-{time.monotonic_ns()}.err"
        self._stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen([FLOWBUILDER, "serve", "--port", "0", "--store", store_url, *extra],
                                        cwd=cwd, stdout=subprocess.DEVNULL, stderr=self._stderr)  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            found = re.search(r"listening on (http://[0-9.]+:\d+)", self.stderr_path.read_text(errors="replace"))
            if found:
                self.url = found.group(1)
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"flowbuilder serve did not start: {self.stderr_path.read_text()}")
            time.sleep(0.05)
        self.client = httpx.Client(base_url=self.url, timeout=30)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._stderr.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server of the test's own on a free port (never the machine's)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                                         str(directory), "--save", "", "--appendonly", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def sse_events(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Every SSE frame of a stream until it ends, as dicts of its fields."""
    frames: list[dict[str, str]] = []
    current: dict[str, str] = {}
    with client.stream("GET", path, headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if not line:
                if current:
                    frames.append(current)
                    current = {}
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(": ")
            current[field] = value
    return frames
