"""A tiny local HTTP server for the seed example, so it runs offline.

``GET /data`` returns a JSON array of records; ``GET /status/<code>`` answers with that
status (tests use it for retries); ``GET /slow?seconds=N`` answers after N seconds.

Run it by hand with ``python examples/seed/data_server.py [PORT]`` (default 8000), or let
``examples/seed/run_seed.sh`` start it next to the run.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RECORDS = [{"id": i, "name": f"record-{i}", "value": i * 10} for i in range(1, 6)]


class DataHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/data":
            self._send(200, RECORDS)
        elif url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[1])
            self._send(code, {"status": code})
        elif url.path == "/slow":
            time.sleep(float(parse_qs(url.query).get("seconds", ["1"])[0]))
            self._send(200, {"slow": True})
        elif url.path == "/echo":
            self._send(200, {"query": parse_qs(url.query), "headers": dict(self.headers)})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length).decode()
        self._send(200, {"received": json.loads(body) if body.startswith(("{", "[")) else body})

    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def make_server(host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), DataHandler)
    server.daemon_threads = True
    return server


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    server = make_server("127.0.0.1", port)
    print(f"serving http://127.0.0.1:{server.server_address[1]}/data", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
