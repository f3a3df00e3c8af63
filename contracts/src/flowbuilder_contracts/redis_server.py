"""A private redis-server for tests: a free port of 127.0.0.1, a directory of its own, stopped by PID.

The one launcher every test suite of the repository uses (core's end-to-end tests, the
storage, distributed and UI packages, and a Redis-backed plugin's contract run), so the way a
test gets a Redis — never the machine's own on 6379 — is written once. It lives here because
every cell of the contract matrix installs ``flowbuilder-contracts``::

    from flowbuilder_contracts.redis_server import RedisServer

    with RedisServer(tmp_path / "redis") as server:   # started; killed on exit
        client = redis.Redis.from_url(server.url)
        server.pause()                                # SIGSTOP: accepts, never answers (an outage)
        server.resume()
        server.stop(kill=True)                        # a dead Redis, for failure tests
        server.start()                                # the same port again

``appendonly=True`` turns AOF on with ``appendfsync always`` (every acknowledged write
survives a kill -9; ``appendfsync="everysec"`` for a benchmark of Redis's usual setting);
without it the server keeps nothing across a restart. Missing
``redis-server`` raises :class:`RedisServerError` saying how to install it.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT = 10.0
"""Seconds a server may take to answer PING after it was started."""
PORT_ATTEMPTS = 5
"""Free ports tried when another process takes the one probed before the server binds it."""


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start; the message says what to do."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_server_binary() -> str:
    """The path of ``redis-server``, or :class:`RedisServerError` saying how to get it."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisServerError(
            "redis-server is not installed; `bash scripts/test` installs it (apt-get install redis-server)"
        )
    return binary


def answers_ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis on ``port`` of 127.0.0.1 answers PING now."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process that the test owns: :meth:`start`, :meth:`stop`, :meth:`restart`.

    The port is chosen on the first :meth:`start` (or given) and kept, so a restarted
    server is found at the same :attr:`url`. The server writes its log and data files in
    ``directory``.
    """

    def __init__(
        self, directory: Path, *, appendonly: bool = False, appendfsync: str = "always", port: int | None = None
    ) -> None:
        self.binary = redis_server_binary()
        self.directory = directory
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.port = port or free_port()
        self._port_given = port is not None
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False
        """Whether :meth:`pause` stopped the server (and :meth:`resume` has not continued it)."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def log_file(self) -> Path:
        return self.directory / "redis.log"

    def _arguments(self) -> list[str]:
        arguments = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                     "--save", "", "--daemonize", "no", "--protected-mode", "yes", "--logfile", str(self.log_file)]  # fmt: skip
        if self.appendonly:
            return [*arguments, "--appendonly", "yes", "--appendfsync", self.appendfsync]
        return [*arguments, "--appendonly", "no"]

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING (a new port if the first was taken)."""
        if self.process is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        for _ in range(1 if self._port_given else PORT_ATTEMPTS):
            process = subprocess.Popen(self._arguments(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       stdin=subprocess.DEVNULL)  # fmt: skip
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and process.poll() is None:
                if answers_ping(self.port, timeout=0.2):
                    self.process = process
                    self._port_given = True  # a restart comes back on this port
                    return self
                time.sleep(0.02)
            process.kill()
            process.wait(timeout=10)
            if not self._port_given:
                self.port = free_port()
        raise RedisServerError(f"redis-server did not start on 127.0.0.1:{self.port}; see {self.log_file}")

    def pause(self) -> None:
        """SIGSTOP the server: its socket still accepts, nothing answers (an outage, not a refusal)."""
        assert self.process is not None, "the server is not running"
        self.paused = True
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT a paused server (harmless when it runs)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM; ``kill``: SIGKILL, as a crash) and wait for it; idempotent."""
        process, self.process = self.process, None
        if process is None:
            return
        if self.paused:
            process.send_signal(signal.SIGCONT)  # a stopped process does not handle SIGTERM
            self.paused = False
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self, kill: bool = False) -> None:
        """Stop and start again on the same port (with AOF, the data comes back)."""
        self.stop(kill=kill)
        self.start()

    def flush(self) -> None:
        """Delete every key (FLUSHALL), for a fixture shared by several tests."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            client.flushall()
        finally:
            client.close()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop(kill=True)


__all__ = ["RedisServer", "RedisServerError", "answers_ping", "free_port", "redis_server_binary"]
