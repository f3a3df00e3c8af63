"""``flowbuilder serve --grpc`` with API tokens: REST and gRPC behind the same roles, one audit log.

A real server process (RocksDB in tmp_path, tokens in its ``flowbuilder.toml``), driven with
httpx and the generated gRPC client: what issue 13 asks of auth ("a viewer cannot cancel, no
token gives 401, and the audit log records each mutating call") through both APIs at once,
plus the web UI's shell and /healthz staying open so a browser can load the token prompt.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Iterator

import grpc
import pytest
from serve_process import CONFIGURED_TOKENS, FLOWBUILDER, ServeProcess, as_role, secured_serve

from flowui.grpc_api import CLIENT_OPTIONS
from flowui.grpc_api._generated import flowbuilder_pb2 as pb
from flowui.grpc_api._generated import flowbuilder_pb2_grpc as pb_grpc

SLOW = 'name: slow\ntasks:\n  - {name: wait, type: shell, config: {command: "sleep 30"}}\n'


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[ServeProcess]:
    server = secured_serve(tmp_path, "--grpc", "0")
    try:
        yield server
    finally:
        server.stop()


def grpc_stubs(server: ServeProcess) -> tuple[grpc.Channel, pb_grpc.RunServiceStub]:
    found = re.search(r"gRPC: (127\.0\.0\.1:\d+)", server.stderr)
    assert found, server.stderr
    channel = grpc.insecure_channel(found.group(1), options=list(CLIENT_OPTIONS))
    return channel, pb_grpc.RunServiceStub(channel)


def grpc_code(call: object) -> grpc.StatusCode:
    try:
        call()  # type: ignore[operator]
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_rest_and_grpc_share_the_roles_and_the_audit_log(secured: ServeProcess, tmp_path: Path) -> None:
    client = secured.client
    # open without a token: the health check and the web UI's shell (it asks for the token)
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code in (200, 503)  # 503: the UI is not built in this checkout
    # everything else needs one
    refused = client.get("/api/v1/runs")
    assert refused.status_code == 401 and refused.json()["error"]["status"] == 401
    assert refused.headers["www-authenticate"].lower().startswith("bearer")
    assert client.get("/metrics").status_code == 401
    assert client.get("/api/v1/runs", headers=as_role("viewer")).status_code == 200
    # a viewer may not start or cancel; an operator may
    assert client.post("/api/v1/runs", json={"yaml": SLOW}, headers=as_role("viewer")).status_code == 403
    started = client.post("/api/v1/runs", json={"yaml": SLOW}, headers=as_role("operator"))
    assert started.status_code in (200, 201, 202), started.text
    run_id = started.json()["run_id"]
    denied = client.post(f"/api/v1/runs/{run_id}/cancel", headers=as_role("viewer"))
    assert denied.status_code == 403 and "operator" in denied.json()["error"]["reason"]
    # the same over gRPC, on the same run service
    channel, runs = grpc_stubs(secured)
    with channel:
        ref = pb.RunRef(run_id=run_id)
        assert grpc_code(lambda: runs.GetFlowStatus(ref)) is grpc.StatusCode.UNAUTHENTICATED
        viewer = list(as_role("viewer").items())
        assert runs.GetFlowStatus(ref, metadata=viewer).summary.run_id == run_id
        cancel = pb.ControlRunRequest(run_id=run_id)
        assert grpc_code(lambda: runs.Cancel(cancel, metadata=viewer)) is grpc.StatusCode.PERMISSION_DENIED
        runs.Cancel(cancel, metadata=list(as_role("operator").items()))
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/runs/{run_id}", headers=as_role("viewer")).json()["summary"]["status"] != "cancelled":
        assert time.monotonic() < deadline, "the run cancelled over gRPC never ended"
        time.sleep(0.1)
    assert secured.terminate() == 0
    # the audit log: every mutating call, allowed or refused, REST and gRPC, with who did it
    done = subprocess.run([FLOWBUILDER, "audit", "--store", secured.store_url, "--json", "--limit", "100"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)["records"]
    seen = {(r["actor"], r["action"].split(" ")[-1].rsplit("/", 1)[-1], str(r["outcome"])) for r in records}
    assert ("viewer-user", "runs", "403") in seen, records
    assert ("operator-user", "runs", "201") in seen or ("operator-user", "runs", "200") in seen, records
    assert ("viewer-user", "cancel", "403") in seen, records
    grpc_cancels = [r for r in records if r["action"].endswith("/Cancel")]
    assert {r["actor"] for r in grpc_cancels} == {"viewer-user", "operator-user"}, records
    assert not any(token in done.stdout for token in CONFIGURED_TOKENS.values()), "a token reached the audit log"


def test_every_response_carries_the_security_headers(secured: ServeProcess) -> None:
    for path, headers in (("/healthz", {}), ("/api/v1/runs", as_role("viewer")), ("/api/v1/runs", {})):
        response = secured.client.get(path, headers=headers)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


def test_a_mutating_call_from_another_origin_is_refused_even_with_a_token(secured: ServeProcess) -> None:
    response = secured.client.post("/api/v1/runs", json={"yaml": SLOW},
                                   headers={**as_role("operator"), "origin": "https://evil.example"})  # fmt: skip
    assert response.status_code == 403


def test_a_secret_param_given_over_grpc_never_reaches_the_audit_log(secured: ServeProcess) -> None:
    """The server hands its interceptors the serialized request: the audit detail was a
    ``b'...'`` repr holding ``{"pin": "..."}`` in clear. It is the parsed message now, with
    ``params_json: "***"`` (``pin`` does not look secret by its name; the workflow says it is)."""
    channel, runs = grpc_stubs(secured)
    planted = "grpc-Pin-Value-4242"
    yaml = "name: vault\nparams:\n  pin: {type: string, secret: true}\ntasks:\n  - {name: t, type: shell, config: {command: 'echo ${{ params.pin }}'}}\n"
    operator = list(as_role("operator").items())
    with channel:
        run_id = runs.StartRun(pb.StartRunRequest(yaml=yaml, params_json=json.dumps({"pin": planted})),
                               metadata=operator).run_id  # fmt: skip
        assert grpc_code(lambda: runs.Retry(pb.RetryRequest(run_id=run_id, params_json=json.dumps({"pin": planted})),
                                            metadata=operator)) is not grpc.StatusCode.INTERNAL  # fmt: skip
    records = secured.client.get("/api/v1/audit", headers=as_role("admin")).json()["records"]
    started = [r for r in records if r["action"].endswith(("/StartRun", "/Retry"))]
    assert len(started) == 2 and all('params_json: "***"' in r["detail"] for r in started), started
    assert "name: vault" in started[-1]["detail"] and planted not in json.dumps(records)
