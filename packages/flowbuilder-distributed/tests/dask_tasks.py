"""Task functions the Dask end-to-end workflows call (importable by the LocalCluster's workers)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from flowbuilder.interfaces import TaskContext, TaskFailure


def where_it_ran(index: int, context: TaskContext) -> dict[str, Any]:
    """The pid and host of the process that ran it; it also logs a line (it must reach the run's log)."""
    time.sleep(0.05)
    context.log("stdout", f"item {index} on pid {os.getpid()}")
    return {"index": index, "pid": os.getpid(), "host": socket.gethostname()}


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def fail_classified() -> None:
    raise TaskFailure("the service said no", exit_code=4, status=503, retryable=False)


def mark_then_sleep(mark: str, seconds: float) -> float:
    """Touch ``mark`` (the test then knows the attempt is running on the cluster), then sleep."""
    Path(mark).touch()
    time.sleep(seconds)
    return seconds


def return_a_lock() -> Any:
    """An output that cannot travel back (a lock does not pickle)."""
    import threading

    return threading.Lock()
