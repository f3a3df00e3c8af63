"""Two store_worker.py processes released at the same moment, each reporting what it got.

The races and the audit tests need the same choreography: start both, wait until each
has opened the store ("ready"), release both ("go"), then read each one's last line, a
JSON list of the sequence numbers it was given.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WORKER = str(Path(__file__).with_name("store_worker.py"))
NAMES = ("a", "b")


def run_two_writers(*arguments: str, rounds: int) -> dict[str, list[int]]:
    """Run ``store_worker.py ARGUMENTS... NAME ROUNDS`` as writers a and b, together; name -> numbers."""
    writers = {
        name: subprocess.Popen(
            [sys.executable, WORKER, *arguments, name, str(rounds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in NAMES
    }
    for process in writers.values():
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    for process in writers.values():
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    numbers = {}
    for name, process in writers.items():
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        numbers[name] = json.loads(out.strip().splitlines()[-1])
    return numbers
