"""A real HTTP server on 127.0.0.1 that records what it was sent and can answer redirects."""

from __future__ import annotations

import ssl
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator


@dataclass
class Recorder:
    """What one server received; ``redirect_to`` makes it answer every request with a 302."""

    port: int = 0
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    redirect_to: str | None = None
    redirect_status: int = 302

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def paths(self) -> list[str]:
        return [path for _method, path, _headers in self.requests]


@contextmanager
def recording_server(tls: tuple[Path, Path] | None = None) -> Iterator[Recorder]:
    """A recorder serving on a free port of 127.0.0.1 until the block ends (HTTPS with
    ``tls=(certificate, key)``)."""
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            recorder.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
            if recorder.redirect_to is not None:
                self.send_response(recorder.redirect_status)
                self.send_header("Location", recorder.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    recorder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
