"""scripts/build_web_ui, which scripts/install calls: one line without npm, instant when nothing changed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "build_web_ui"
STATIC = REPO / "packages" / "flowui" / "src" / "flowui" / "static"


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})  # fmt: skip


def test_without_npm_it_says_so_in_one_line_and_does_not_fail_the_install() -> None:
    done = _run(FLOWBUILDER_NPM="/nonexistent/npm")
    assert done.returncode == 0
    assert done.stderr.strip().splitlines() == [
        "scripts/build_web_ui: npm not found: the web UI is not built"
        " (install Node.js 20 with npm and run bash scripts/install)"
    ]


@pytest.mark.skipif(
    not (STATIC / ".build-fingerprint").is_file(), reason="the web UI has not been built by this script here"
)
def test_an_unchanged_build_is_not_rebuilt_and_needs_no_npm() -> None:
    """Up to date is decided from the sources' fingerprint alone: no npm call at all."""
    done = _run(FLOWBUILDER_NPM="/bin/false")
    assert done.returncode == 0, done.stderr
    assert "the web UI is up to date" in done.stderr
