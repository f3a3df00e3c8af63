"""Clients that send less than they announce, or nothing at all, cannot hold the server.

uvicorn bounds the time between requests (keep-alive), not the time a body takes:
:class:`~flowui.request_limits.RequestLimits` gives a body ``body_seconds`` to arrive.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any, MutableMapping

import pytest
from serve_process import ServeProcess

from flowui.request_limits import RequestLimits

Message = MutableMapping[str, Any]


class Answered:
    """An ASGI app that answers 200 ``ok`` once it has read the whole body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


def post_scope(length: int) -> Message:
    return {"type": "http", "method": "POST", "path": "/api/v1/runs", "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(length).encode())]}  # fmt: skip


async def answer_of(limits: RequestLimits, scope: Message, sent: list[Message]) -> tuple[list[Message], float]:
    """What ``limits`` sends for a client that sends ``sent`` and then nothing, and how long it took."""
    pending = list(sent)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()  # the client is silent, its connection open
        raise AssertionError("unreachable")

    answer: list[Message] = []

    async def send(message: Message) -> None:
        answer.append(message)

    began = time.monotonic()
    await asyncio.wait_for(limits(scope, receive, send), 10)
    return answer, time.monotonic() - began


def test_a_body_shorter_than_announced_gets_408_after_the_deadline() -> None:
    app = Answered()
    limits = RequestLimits(app, body_seconds=0.3)
    answer, took = asyncio.run(answer_of(limits, post_scope(100), [{"type": "http.request", "body": b"{}",
                                                                     "more_body": True}]))  # fmt: skip
    assert answer[0]["status"] == 408 and (b"connection", b"close") in answer[0]["headers"]
    reason = json.loads(answer[1]["body"])["error"]["reason"]
    assert "did not arrive within 0.3 s" in reason and "\n" not in reason
    assert 0.25 < took < 3 and app.bodies == []


def test_an_oversized_body_that_never_arrives_still_gets_its_413() -> None:
    """The drain of a refused body waited for bytes that never came: the 413 never went out."""
    limits = RequestLimits(Answered(), max_body_bytes=10, body_seconds=0.3)
    answer, took = asyncio.run(answer_of(limits, post_scope(1000), []))
    assert answer[0]["status"] == 413 and took < 3


def test_a_body_that_arrives_in_time_is_passed_on_whole() -> None:
    app = Answered()
    limits = RequestLimits(app, body_seconds=5)
    chunks: list[Message] = [{"type": "http.request", "body": b'{"a":', "more_body": True},
                             {"type": "http.request", "body": b" 1}"}]  # fmt: skip
    answer, _ = asyncio.run(answer_of(limits, post_scope(8), chunks))
    assert answer[0]["status"] == 200 and app.bodies == [b'{"a": 1}']


def test_uvicorn_closes_the_connection_of_a_short_body() -> None:
    """End to end through uvicorn: the 408 arrives and the connection is closed (its task ended)."""
    import uvicorn

    async def scenario() -> bytes:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(RequestLimits(Answered(), body_seconds=0.5), log_level="warning",
                                               lifespan="off", timeout_graceful_shutdown=1))  # fmt: skip
        serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{}")  # fmt: skip
            await writer.drain()
            received = await asyncio.wait_for(reader.read(), 5)  # until the server closes the connection
            writer.close()
            assert not server.server_state.tasks, "the request's task still runs"
            return received
        finally:
            server.should_exit = True
            await serving

    received = asyncio.run(asyncio.wait_for(scenario(), 15))
    assert received.startswith(b"HTTP/1.1 408") and b"did not arrive within" in received


@pytest.mark.parametrize("partial", [b"", b"GET /api/v1/runs HTTP/1.1\r\nHost: x\r\n"])
def test_500_idle_connections_leave_the_server_responsive(rocksdb_server: ServeProcess, partial: bytes) -> None:
    """No ``limit_concurrency``: uvicorn counts open connections against it, so idle ones
    would turn every real request into a 503 (see docs/security.md)."""
    host, port = rocksdb_server.url.removeprefix("http://").split(":")
    idle: list[socket.socket] = []
    try:
        for _ in range(500):
            connection = socket.create_connection((host, int(port)), timeout=10)
            if partial:
                connection.sendall(partial)
            idle.append(connection)
        began = time.monotonic()
        assert rocksdb_server.client.get("/healthz").json()["status"] == "ok"
        assert rocksdb_server.client.get("/api/v1/runs").status_code == 200
        assert time.monotonic() - began < 5
    finally:
        for connection in idle:
            connection.close()
    assert "Traceback" not in rocksdb_server.stderr
