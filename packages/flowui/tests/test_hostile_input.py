"""Hostile input against a real ``flowbuilder serve``: every answer a 4xx with a one-line reason
in the API's error shape, no traceback in the server's log, and no secret param in the audit log."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from serve_process import ServeProcess
from test_serve_api import GREET, start, wait_status

from flowui.grpc_api._generated import flowbuilder_pb2 as pb
from flowui.request_limits import lone_surrogate
from flowui.security.param_values import without_param_values

JSON = {"content-type": "application/json"}


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["status"] == status and "\n" not in body["error"]["reason"]
    return str(body["error"]["reason"])


def test_hostile_bodies_headers_and_paths_get_a_4xx_with_a_reason(rocksdb_server: ServeProcess) -> None:
    client = rocksdb_server.client
    greet = json.dumps(GREET).encode()
    # a lone surrogate escape decodes to a str no store can encode: refused before any handler
    for body in (b'{"yaml": "name: a\\ud800"}', b'{"yaml": %s, "params": {"who": "\\udc00x"}}' % greet,
                 b'{"yaml": %s, "params": {"who": "\\ud83d"}}' % greet):  # fmt: skip
        assert "lone surrogate" in error_of(client.post("/api/v1/runs", content=body, headers=JSON), 400)
    pair = b'{"yaml": %s, "params": {"who": "\\ud83d\\ude00"}}' % greet  # a pair is one character
    escaped = b'{"yaml": %s, "params": {"who": "\\\\ud800"}}' % greet  # a backslash, then text
    for body in (pair, escaped):
        started = client.post("/api/v1/runs", content=body, headers={"content-type": "Application/JSON"})
        assert started.status_code == 201, started.text
        wait_status(client, started.json()["run_id"], "succeeded")
    # an integer longer than Python reads is a located workflow error
    huge = f"name: greet\nversion: {'9' * 5000}\ntasks: []\n"
    checked = client.post("/api/v1/workflows/validate", content=huge.encode()).json()
    assert checked["valid"] is False and (checked["errors"][0]["line"], checked["errors"][0]["column"]) == (2, 10)
    assert "5,000 digits" in error_of(client.post("/api/v1/runs", json={"yaml": huge}), 422)
    # Last-Event-ID is Latin-1: '²' and '¹' are digits to str.isdigit() but not to int()
    run_id = start(client, GREET)
    for stream in ("events", "logs"):
        for value in (b"\xb2", b"\xb9"):
            refused = client.get(f"/api/v1/runs/{run_id}/{stream}/stream", headers={"last-event-id": value})
            assert "Last-Event-ID" in error_of(refused, 400)
    # an /api path no route takes answers in the same shape as every other API error
    assert "no API route GET /api/v1/no-such-thing" in error_of(client.get("/api/v1/no-such-thing"), 404)
    assert client.get("/healthz").json()["status"] == "ok"
    assert "Traceback" not in rocksdb_server.stderr


def test_a_secret_param_never_reaches_the_audit_log(rocksdb_server: ServeProcess) -> None:
    """``pin`` does not look secret by its name; only the workflow says it is."""
    client = rocksdb_server.client
    yaml = "name: vault\nparams:\n  pin: {type: string, secret: true}\ntasks:\n  - name: use\n    type: shell\n"
    yaml += '    config: {command: "echo pin ${{ params.pin }}; exit 1"}\n'
    planted = "s3cr3t-Pin-Value-42"
    run_id = start(client, yaml, pin=planted)
    wait_status(client, run_id, "failed")
    retried = client.post(f"/api/v1/runs/{run_id}/retry", json={"params": {"pin": planted}})
    assert retried.status_code == 201, retried.text
    wait_status(client, run_id, "failed")
    error_of(client.post("/api/v1/runs", json={"yaml": yaml, "params": {"pin": [planted]}}), 422)
    error_of(client.post("/api/v1/runs", json={"workflow": "vault", "params": {"pin": planted}}), 404)
    cut = b'{"params": {"pin": "%s"}, "yaml": "' % planted.encode() + b"x" * 70_000 + b'"}'  # past what audit keeps
    assert client.post("/api/v1/runs", content=cut, headers=JSON).status_code == 422
    records = client.get("/api/v1/audit", params={"limit": 100}).json()["records"]
    started = [r for r in records if r["action"] in ("POST /api/v1/runs", "POST /api/v1/runs/{run_id}/retry")]
    assert len(started) == 5 and all("***" in r["detail"] for r in started)
    assert planted not in json.dumps(records)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'"\\ud800"', 1),
        (b'"ok \\udc00"', 4),
        (b'"\\ud83d\\ude00 \\ud83d"', 14),
        (b'"\\ud83d x\\ude00"', 1),
        (b'"\\\\ud800 \\\\\\\\udc00"', None),
        (b'"\\ud83d\\ude00", "\\u00e9"', None),
        (b'{"a": 1}', None),
    ],
)
def test_lone_surrogate_finds_the_first_unpaired_escape(body: bytes, expected: int | None) -> None:
    assert lone_surrogate(body) == expected


def test_param_values_are_masked_in_rest_bodies_and_grpc_requests() -> None:
    rest = without_param_values('{"yaml": "name: x", "params": {"pin": "1234", "n": {"deep": "v"}}, "kind": "x"}')
    assert json.loads(rest) == {"yaml": "name: x", "params": {"pin": "***", "n": "***"}, "kind": "x"}
    assert without_param_values('{"params": "1234"}') == '{"params":"***"}'
    assert without_param_values('{"reason": "no params here"}') == '{"reason": "no params here"}'
    assert "1234" not in without_param_values('{"params": {"pin": "1234"}, "yaml": "cut sh')
    deep = '{"params": {"pin": "1234"}, "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert without_param_values(deep).startswith('{"params": ***')  # not a RecursionError in the audit
    request = str(pb.StartRunRequest(yaml="name: x", params_json=json.dumps({"pin": '12"34'}), run_id="r1"))
    masked = without_param_values(request)
    assert "12" not in masked and 'params_json: "***"' in masked and 'run_id: "r1"' in masked
    assert without_param_values('params_json: "{\\"pin\\": \\"12') == 'params_json: "***"'


def test_retries_of_one_run_posted_at_once_run_it_once(rocksdb_server: ServeProcess) -> None:
    """The run's lease is the server's own, so it did not stop a second execution in the same
    process: six retries posted together all answered 201 and ran the failed task six times."""
    from concurrent.futures import ThreadPoolExecutor

    client = rocksdb_server.client
    flaky = "name: flaky\ntasks:\n  - name: once\n    type: shell\n    config: {command: 'sleep 1; exit 1'}\n"
    run_id = start(client, flaky)
    wait_status(client, run_id, "failed", timeout=60)

    def retry(_: int) -> httpx.Response:
        with httpx.Client(base_url=rocksdb_server.url, timeout=30) as own:
            return own.post(f"/api/v1/runs/{run_id}/retry")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(retry, range(6)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409, 409], [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert "running" in error_of(refused, 409)
    wait_status(client, run_id, "failed", timeout=60)
    kinds = [e["kind"] for e in client.get(f"/api/v1/runs/{run_id}/events").json()["events"]]
    assert kinds.count("run_started") == 2 and kinds.count("task_started") == 2 and kinds[-1] == "run_finished"


def test_a_burst_of_live_streams_never_opens_more_than_the_limit(rocksdb_server: ServeProcess) -> None:
    """Room was checked in the route but counted when the stream started: 600 log streams
    opened at once got 281 answers of 200 for a limit of 256 (each holds a blocking thread)."""
    import socket
    from urllib.parse import urlsplit

    from flowui.live import MAX_FOLLOWED_RUNS

    client = rocksdb_server.client
    run_id = start(client, "name: idle\ntasks:\n  - name: t\n    type: shell\n    config: {command: 'sleep 60'}\n")
    address = urlsplit(rocksdb_server.url)
    request = f"GET /api/v1/runs/{run_id}/logs/stream HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    opened: list[socket.socket] = []
    try:
        for _ in range(2):  # the second burst finds every place of the first given back
            for _ in range(MAX_FOLLOWED_RUNS + 150):
                connection = socket.create_connection((address.hostname, address.port), timeout=30)
                connection.sendall(request)
                opened.append(connection)
            statuses = [connection.recv(12) for connection in opened]
            assert statuses.count(b"HTTP/1.1 200") == MAX_FOLLOWED_RUNS, sorted(set(statuses))
            assert statuses.count(b"HTTP/1.1 503") == 150
            for connection in opened:
                connection.close()
            opened.clear()
            time.sleep(3)  # the server notices the closed connections (within its disconnect check)
    finally:
        for connection in opened:
            connection.close()
        client.post(f"/api/v1/runs/{run_id}/cancel")
    assert "Traceback" not in rocksdb_server.stderr


def test_a_stream_resumed_past_the_last_event_still_ends(rocksdb_server: ServeProcess) -> None:
    """The ``end`` frame carried the last event's number: a client resuming after a larger
    one got an empty 200, and a browser's EventSource reconnects after that, forever."""
    from serve_process import sse_events

    client = rocksdb_server.client
    run_id = start(client, GREET)
    wait_status(client, run_id, "succeeded")
    for query in ("?after=4611686018427387904", "?after=1000"):
        frames = sse_events(client, f"/api/v1/runs/{run_id}/events/stream{query}")
        assert [frame.get("event") for frame in frames] == ["end"], frames
    frames = sse_events(client, f"/api/v1/runs/{run_id}/events/stream", headers={"last-event-id": "999"})
    assert [frame.get("event") for frame in frames] == ["end"], frames
    assert [f.get("event") for f in sse_events(client, f"/api/v1/runs/{run_id}/events/stream")][-1] == "end"


def test_a_number_param_past_a_floats_range_is_a_number_not_a_500(rocksdb_server: ServeProcess) -> None:
    """``math.isfinite`` raised OverflowError on a 400-digit JSON integer (an int is always finite)."""
    client = rocksdb_server.client
    yaml = "name: sized\nparams:\n  n: {type: number}\ntasks:\n  - {name: t, type: shell, config: {command: echo}}\n"
    body = b'{"yaml": %s, "params": {"n": %s}}' % (json.dumps(yaml).encode(), b"9" * 400)
    started = client.post("/api/v1/runs", content=body, headers=JSON)
    assert started.status_code == 201, started.text
    wait_status(client, started.json()["run_id"], "succeeded")
    infinite = b'{"yaml": %s, "params": {"n": 1e400}}' % json.dumps(yaml).encode()  # a float: inf
    assert "finite" in error_of(client.post("/api/v1/runs", content=infinite, headers=JSON), 422)
    assert "Traceback" not in rocksdb_server.stderr
