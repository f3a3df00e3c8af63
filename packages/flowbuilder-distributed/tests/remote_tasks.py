"""Task functions the tests' workflows call through ``python`` tasks (importable by workers)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any


def square(x: int) -> int:
    return x * x


def who_runs(seconds: float = 0.05) -> dict[str, Any]:
    """Which worker process ran it (its pid and its FLOWBUILDER_TEST_NODE), slowly enough to spread."""
    time.sleep(seconds)
    return {"pid": os.getpid(), "node": os.environ.get("FLOWBUILDER_TEST_NODE", "?")}


def slow_then_mark(folder: str, name: str, seconds: float = 1.0) -> str:
    """Mark that it started, sleep, then mark that it finished (for kill and drain tests)."""
    Path(folder, f"{name}.{os.getpid()}.started").touch()
    time.sleep(seconds)
    Path(folder, f"{name}.{os.getpid()}.finished").touch()
    return name


def die() -> None:
    """Kill the process that runs it (a worker, when isolation is thread): the poison attempt."""
    os.kill(os.getpid(), signal.SIGKILL)
