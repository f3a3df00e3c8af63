"""A response body larger than max_response_bytes fails the attempt before it sits in memory whole."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from flowrunner_helpers import run_text

from flowbuilder.events import TaskStatus

BIG = 50 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/declared":
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            self._write_chunks(BIG)
        elif self.path == "/chunked":  # no length: the reader must stop by itself
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(BIG // len(chunk)):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/gzip-bomb":  # small on the wire, 50 MB decoded
            body = gzip.compress(b"\0" * BIG)
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "identity")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _write_chunks(self, total: int) -> None:
        chunk = b"y" * 65536
        try:
            for _ in range(total // len(chunk)):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def big_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("path", ["/declared", "/chunked", "/gzip-bomb"])
def test_a_body_over_the_limit_fails_without_retry_and_names_the_setting(big_server: str, path: str) -> None:
    result = run_text(f"""
name: big
tasks:
  - name: fetch
    type: http
    retry: {{attempts: 3}}
    config: {{url: "{big_server}{path}", max_response_bytes: 1048576}}
""")
    state = result.tasks["fetch"]
    assert state.status is TaskStatus.FAILED
    assert "max_response_bytes=1048576" in (state.error or "")
    assert state.attempts == 1


def test_a_small_body_is_read_and_parsed_as_before(big_server: str) -> None:
    result = run_text(f"""
name: small
tasks:
  - {{name: fetch, type: http, config: {{url: "{big_server}/small", max_response_bytes: 1024, response: full}}}}
""")
    assert result.output("fetch")["body"] == {"ok": True}
    assert result.output("fetch")["status"] == 200
