"""The task the example's fan-out runs: it says which worker process ran it.

Workers import this module (the launcher puts this folder on their ``PYTHONPATH``); a
``python`` task with ``isolation: thread`` runs inside the worker's own process, so
``os.getpid()`` is that worker's pid, which ``flowbuilder cluster status`` also shows.
"""

from __future__ import annotations

import os
import socket
import time


def where(part: int, seconds: float = 0.2) -> dict[str, object]:
    """Work a little (so both workers get a share), then report the host and the worker's pid."""
    time.sleep(seconds)
    return {"part": part, "host": socket.gethostname(), "pid": os.getpid()}
