"""``flowbuilder serve``'s refusals: one line, exit 2, no traceback; and the route role table."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serve_process import FLOWBUILDER

from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.authenticator import Role
from flowui.routes_policy import ROUTE_ROLES, required_role, role_allows, route_template
from flowui.security.binding import check_bind, is_loopback
from flowui.tokens import TokenAuthenticator, TokenEntry, hash_token


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLOWBUILDER, "serve", "--store", f"rocksdb://{tmp_path / 'store'}", *args],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        done = serve(tmp_path, "--port", str(taken.getsockname()[1]))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "is in use" in done.stderr


def test_a_non_loopback_address_is_refused_until_auth_is_configured(tmp_path: Path) -> None:
    done = serve(tmp_path, "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2 and "without authentication" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "store").exists()  # refused before the store was opened


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.5.5.5"])
def test_loopback_addresses_need_no_auth(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, [TokenAuthenticator([])])


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.2", "example.org", "::"])
def test_other_addresses_need_auth(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigurationError, match="without authentication"):
        check_bind(host, [TokenAuthenticator([])])
    check_bind(host, [TokenAuthenticator([TokenEntry("ci", Role.OPERATOR, hash_token("t" * 32))])])


def test_every_route_of_the_app_has_a_role_and_mutations_need_more_than_viewer() -> None:
    from flowui.app import create_fastapi

    app = create_fastapi(object())  # type: ignore[arg-type]  # routes are listed, never called
    paths = app.openapi()["paths"]  # type: ignore[attr-defined]
    routes = {(method.upper(), path) for path, methods in paths.items() for method in methods}
    routes |= {("GET", "/api/v1/openapi.json")}
    assert routes == set(ROUTE_ROLES)
    for (method, path), role in ROUTE_ROLES.items():
        if method == "POST" and path != "/api/v1/workflows/validate":
            assert role in ("operator", "admin"), path
    assert required_role("DELETE", "/api/v1/not-declared") == "admin"
    assert route_template("/api/v1/workflows/validate") == "/api/v1/workflows/validate"
    assert route_template("/api/v1/workflows/greet") == "/api/v1/workflows/{name}"
    assert route_template("/api/v1/runs/abc/events/stream") == "/api/v1/runs/{run_id}/events/stream"
    assert route_template("/api/v1/runs/abc/def") is None
    assert role_allows("admin", "operator") and not role_allows("viewer", "operator")


def test_the_cli_loads_no_web_stack_until_serve_runs() -> None:
    """`flowbuilder --help` calls every plugin's command hook: serve's must not import FastAPI."""
    code = (
        "import sys; from flowbuilder.cli.main import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'fastapi', 'starlette', 'uvicorn', 'prometheus_client'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "serve" in done.stdout and done.stdout.strip().endswith("[]")


def test_open_starts_the_browser_at_the_servers_url(tmp_path: Path) -> None:
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    server = subprocess.Popen([FLOWBUILDER, "serve", "--port", "0", "--open", "--store", f"rocksdb://{tmp_path / 's'}"],
                              cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "BROWSER": str(browser)})  # fmt: skip
    try:
        assert server.stderr is not None
        url = None
        while url is None:  # after the one-line notice that authentication is off (no tokens, loopback)
            line = server.stderr.readline()
            assert line, "the server ended before listening"
            url = re.search(r"listening on (\S+) ", line)
        deadline = time.monotonic() + 20
        while not opened.exists() or not opened.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert opened.read_text().strip() == url.group(1)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
