"""The package itself: importable without loading a web stack, versioned from one place."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import flowui

PACKAGE = Path(__file__).resolve().parent.parent


def test_the_version_is_the_changelogs_newest() -> None:
    changelog = (PACKAGE / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {flowui.__version__} " in changelog


def test_the_distribution_name_is_a_publishable_one() -> None:
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "flowbuilder-ui"  # PyPI's `flowui` is someone else's


def test_importing_flowui_loads_no_server_stack() -> None:
    """`flowbuilder --help` and plugin discovery import this package: they must stay fast."""
    code = "import sys, flowui; print(sorted(m for m in sys.modules if m.split('.')[0] in {'starlette', 'fastapi', 'uvicorn', 'grpc'}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
