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
import subprocess
import sys
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


@pytest.fixture
def free_port() -> int:
    from flowbuilder_contracts.redis_server import free_port as probe_free_port

    return probe_free_port()


@pytest.fixture(params=["rocksdb", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each durable store in turn: a fresh embedded RocksDB directory, then a Redis server of the test's own."""
    if request.param == "rocksdb":
        return f"rocksdb://{tmp_path / 'store'}"
    return str(request.getfixturevalue("redis_server"))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own, on a free port of 127.0.0.1; stopped afterwards."""
    from flowbuilder_contracts.redis_server import RedisServer

    with RedisServer(tmp_path / "redis") as server:
        yield server.url
