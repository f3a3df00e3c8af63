"""The examples under examples/ run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_synchronous_api_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "python-api" / "run_sync.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "succeeded total = 285 report = total=285" in done.stdout


def test_the_many_runs_example_runs_and_cancels() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "python-api" / "run_many.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "50 runs done" in done.stdout and "slow run: cancelled" in done.stdout
