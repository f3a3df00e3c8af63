"""Running a command the way a user's fresh shell would: none of this test run's environment leaks in.

Shared by the wheel tests, whose virtualenvs must not see the checkout: FLOWBUILDER_*,
PYTHON* and VIRTUAL_ENV are dropped, stdin is closed, and nothing raises on an exit code.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def run_isolated(*command: object, cwd: Path | None, timeout: float) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("FLOWBUILDER_", "PYTHON", "VIRTUAL_ENV"))
    }
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def run_checked(*command: object, cwd: Path | None, timeout: float) -> subprocess.CompletedProcess[str]:
    """:func:`run_isolated`, failing the test with both outputs when the command fails."""
    done = run_isolated(*command, cwd=cwd, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done
