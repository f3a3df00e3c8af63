"""A real ``flowbuilder serve`` process on a free 127.0.0.1 port (``--port 0``; the URL is read
from its first stderr line), stopped by PID at the end."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))
CONFIGURED_TOKENS = {"viewer": "v" * 40, "operator": "o" * 40, "admin": "a" * 40}
"""role -> the token of the user ``{role}-user`` that :func:`secured_serve` configures."""


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


def secured_serve(directory: Path, *extra: str) -> ServeProcess:
    """``flowbuilder serve`` on RocksDB in ``directory``, whose flowbuilder.toml configures
    one user per role of :data:`CONFIGURED_TOKENS` (by the tokens' SHA-256, as users would)."""
    from flowui.tokens import hash_token

    lines = [f'[[serve.tokens]]\nname = "{role}-user"\nrole = "{role}"\nsha256 = "{hash_token(token)}"\n'
             for role, token in CONFIGURED_TOKENS.items()]  # fmt: skip
    (directory / "flowbuilder.toml").write_text("\n".join(lines), encoding="utf-8")
    return ServeProcess(f"rocksdb://{directory / 'store'}", directory, *extra)


def as_role(role: str) -> dict[str, str]:
    """The authorization header of ``role``'s configured token."""
    return {"authorization": f"Bearer {CONFIGURED_TOKENS[role]}"}
