"""Fixtures for the end-to-end tests in tests/: real processes, real ports, no mocks.

These tests exercise the installed packages together, the way a user does: through the
``flowbuilder`` command in the same virtualenv as the test run, in a scratch directory so
nothing is written into the checkout. Available to every test module in tests/:

* ``repo_root`` — the checkout's root directory.
* ``run_cli`` — run the ``flowbuilder`` CLI as a subprocess: ``run_cli("validate", path)`` returns
  a :class:`subprocess.CompletedProcess` with text output (never raises on exit codes).
* ``scratch_dir`` — an empty working directory for one test (the CLI runs there).
* ``free_port`` — a TCP port on 127.0.0.1 that was free a moment ago.
* ``redis_server`` — a private redis-server on a free port (no persistence, its own temp
  dir), yielding its URL ``redis://127.0.0.1:PORT/0``; the system Redis is never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # helper modules of tests/ (isolated_process)
CLI_TIMEOUT = 120.0

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


def _cli_command() -> list[str]:
    """The ``flowbuilder`` console script of the interpreter running the tests."""
    script = Path(sys.executable).with_name("flowbuilder")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


@pytest.fixture
def scratch_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


@pytest.fixture
def run_cli(scratch_dir: Path) -> RunCli:
    """Run ``flowbuilder ARGS...`` in ``scratch_dir`` with a clean FLOWBUILDER_* environment."""

    def run(*args: object, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:  # fmt: skip
        environment = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
        environment.update(env or {})
        return subprocess.run(
            [*_cli_command(), *map(str, args)],
            cwd=cwd or scratch_dir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    return run


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture(params=["rocksdb", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each durable store in turn: a fresh embedded RocksDB directory, then a Redis server of the test's own."""
    if request.param == "rocksdb":
        return f"rocksdb://{tmp_path / 'store'}"
    return str(request.getfixturevalue("redis_server"))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own, on a free port of 127.0.0.1; stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; `bash scripts/test` installs it (apt-get install redis-server)")
    directory = tmp_path / "redis"
    directory.mkdir()
    for _ in range(5):  # another process may take the port between probing and binding
        port = _free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--logfile", str(directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if _wait_for_redis(port, process):
            break
        process.kill()
        process.wait()
    else:
        pytest.fail(f"redis-server did not start; see {directory / 'redis.log'}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_redis(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    """Whether the server on ``port`` answers PING before ``timeout`` (and is still ours)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False
