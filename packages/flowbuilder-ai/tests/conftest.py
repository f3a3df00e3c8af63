"""Fixtures of flowbuilder-ai's tests: a plugin host with scoring on, and the scoring caches
emptied around each test. The workflow and run helpers live in ai_test_runs.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # ai_test_runs beside this file (import mode importlib)

from ai_test_runs import make_host

from flowbuilder.plugins import PluginHost


@pytest.fixture
def scoring_host() -> PluginHost:
    return make_host(True)


@pytest.fixture(autouse=True)
def _fresh_baselines() -> Iterator[None]:
    from flowbuilder_ai.sink import clear_cache

    clear_cache()
    yield
    clear_cache()
