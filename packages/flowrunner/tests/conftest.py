"""Shared fixtures: a real HTTP server on 127.0.0.1 (the seed example's), plugin host, store."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "examples" / "seed"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    """The seed example's data server on a free port; yields its base URL."""
    from data_server import make_server

    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
