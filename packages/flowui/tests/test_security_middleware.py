"""SecurityMiddleware on a real Starlette app served by uvicorn on 127.0.0.1, called with httpx."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # helper modules beside this file (import mode importlib)
from role_tokens import AUTHENTICATORS, TOKENS, bearer
from served_app import build_app, serve

from flowbuilder.audit import AuditRecord
from flowbuilder.errors import ConfigurationError
from flowbuilder.stores.memory import MemoryStore
from flowui.security import AuditWriter
from flowui.security.headers import CONTENT_SECURITY_POLICY
from flowui.tokens import TokenAuthenticator


@pytest.fixture
def base_url(writer: AuditWriter) -> Iterator[str]:
    with serve(build_app(AUTHENTICATORS, writer)) as url:
        yield url


def audit_log(store: MemoryStore, writer: AuditWriter) -> list[AuditRecord]:
    assert writer.flush(10)
    return store.read_audit(limit=1000).records[::-1]  # oldest first


def test_no_token_is_401_with_a_json_reason_and_www_authenticate(base_url: str) -> None:
    answer = httpx.get(f"{base_url}/api/v1/runs")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"]["status"] == 401 and "Bearer" in answer.json()["error"]["reason"]


@pytest.mark.parametrize("authorization", ["Bearer fbt_not-a-token-at-all", "Basic dXNlcjpwYXNz", "Bearer",
                                           "Bearer " + "x" * 100_000, "Bearer \u00ff\u00fe"])  # fmt: skip
def test_an_unknown_or_malformed_credential_is_401(base_url: str, authorization: str) -> None:
    try:
        answer = httpx.get(f"{base_url}/api/v1/runs", headers={"Authorization": authorization.encode("latin-1")})
    except (httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError):
        # uvicorn refuses a 100 KB header itself, and may close the connection before the
        # client has finished sending it; a refusal either way, never an answer with data
        assert len(authorization) > 65536
        return
    assert answer.status_code in (401, 431)  # uvicorn may refuse a 100 KB header itself
    if answer.status_code == 401:
        assert answer.json()["error"]["reason"]


def test_a_viewer_reads_and_the_app_sees_the_principal(base_url: str) -> None:
    answer = httpx.get(f"{base_url}/api/v1/runs", headers=bearer("viewer"))
    assert answer.status_code == 200 and answer.json()["principal"] == answer.json()["by"] == "viewer-token"


def test_a_head_request_needs_what_its_get_needs(base_url: str) -> None:
    assert httpx.head(f"{base_url}/api/v1/runs", headers=bearer("viewer")).status_code == 200
    assert httpx.head(f"{base_url}/api/v1/plugins", headers=bearer("operator")).status_code == 403
    assert httpx.head(f"{base_url}/api/v1/plugins", headers=bearer("admin")).status_code == 200


def test_a_viewer_cancelling_is_403_naming_the_role_needed(base_url: str) -> None:
    answer = httpx.post(f"{base_url}/api/v1/runs/r1/cancel", headers=bearer("viewer"))
    assert answer.status_code == 403
    assert answer.json()["error"]["needed"] == "operator" and "operator" in answer.json()["error"]["reason"]


def test_an_operator_cancels(base_url: str) -> None:
    answer = httpx.post(f"{base_url}/api/v1/runs/r1/cancel", headers=bearer("operator"))
    assert answer.status_code == 200 and answer.json() == {"cancelled": "r1"}


def test_admin_implies_operator_and_viewer(base_url: str) -> None:
    assert httpx.get(f"{base_url}/api/v1/runs", headers=bearer("admin")).status_code == 200
    assert httpx.post(f"{base_url}/api/v1/runs/r1/cancel", headers=bearer("admin")).status_code == 200
    assert httpx.delete(f"{base_url}/api/v1/workflows/wf", headers=bearer("admin")).status_code == 200
    assert httpx.delete(f"{base_url}/api/v1/workflows/wf", headers=bearer("operator")).status_code == 403


def test_a_mutating_route_the_policy_does_not_list_needs_admin(base_url: str) -> None:
    assert httpx.post(f"{base_url}/api/v1/unlisted", headers=bearer("operator")).status_code == 403
    assert httpx.post(f"{base_url}/api/v1/unlisted", headers=bearer("admin")).status_code in (404, 405)


def test_every_mutating_call_is_audited_with_who_what_when_and_outcome(base_url: str, store: MemoryStore,
                                                                       writer: AuditWriter) -> None:  # fmt: skip
    before = time.time()
    httpx.post(f"{base_url}/api/v1/runs/r1/cancel", headers=bearer("operator"))
    httpx.post(f"{base_url}/api/v1/runs/r2/cancel", headers=bearer("viewer"))
    httpx.post(f"{base_url}/api/v1/runs/r3/cancel")
    httpx.get(f"{base_url}/api/v1/runs", headers=bearer("viewer"))  # reads are not audited
    records = audit_log(store, writer)
    assert [(r.actor, r.role, r.action, r.target, r.outcome) for r in records] == [
        ("operator-token", "operator", "POST /api/v1/runs/{run_id}/cancel", "run_id=r1", "200"),
        ("viewer-token", "viewer", "POST /api/v1/runs/{run_id}/cancel", "run_id=r2", "403"),
        ("anonymous", "", "POST /api/v1/runs/{run_id}/cancel", "run_id=r3", "401"),
    ]
    assert all(before - 1 <= r.at.timestamp() <= time.time() + 1 and r.client.startswith("127.0.0.1:") for r in records)
    assert records[1].detail.startswith("refused: ") and "operator" in records[1].detail


def test_a_secret_in_a_body_and_the_callers_token_are_masked_in_the_audit_detail(base_url: str, store: MemoryStore,
                                                                                  writer: AuditWriter) -> None:  # fmt: skip
    token = TOKENS["operator"][0]
    body = {"workflow": "etl", "params": {"db_password": "hunter2-in-the-body", "note": f"copied {token}"}}
    answer = httpx.post(f"{base_url}/api/v1/runs?api_key=query-secret-value", json=body, headers=bearer("operator"))
    assert answer.status_code == 201
    (record,) = audit_log(store, writer)
    assert "hunter2-in-the-body" not in record.detail and token not in record.detail
    assert "query-secret-value" not in record.detail
    assert '"workflow":"etl"' in record.detail.replace(" ", "") and record.detail.count("***") >= 3


def test_a_huge_binary_body_is_audited_bounded(base_url: str, store: MemoryStore, writer: AuditWriter) -> None:
    answer = httpx.post(f"{base_url}/api/v1/runs/r1/cancel", content=b"\xff\x00" * 500_000, headers=bearer("admin"))
    assert answer.status_code == 200
    (record,) = audit_log(store, writer)
    assert len(record.detail) <= 4096 and "cut" in record.detail


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://127.0.0.1:1"}, {"Sec-Fetch-Site": "cross-site"}])  # fmt: skip
def test_a_mutating_request_from_another_origin_is_refused_even_with_a_token(
        base_url: str, store: MemoryStore, writer: AuditWriter, headers: dict[str, str]) -> None:  # fmt: skip
    answer = httpx.post(f"{base_url}/api/v1/runs/r1/cancel", headers={**bearer("admin"), **headers})
    assert answer.status_code == 403 and "cross-" in answer.json()["error"]["reason"]
    (record,) = audit_log(store, writer)
    assert record.outcome == "403" and record.detail.startswith("refused: cross-")


def test_a_mutating_request_from_the_servers_own_origin_passes(base_url: str) -> None:
    headers = {**bearer("operator"), "Origin": base_url, "Sec-Fetch-Site": "same-origin"}
    assert httpx.post(f"{base_url}/api/v1/runs/r1/cancel", headers=headers).status_code == 200


def test_a_cross_origin_read_is_not_refused_for_its_origin(base_url: str) -> None:
    headers = {**bearer("viewer"), "Origin": "https://elsewhere.example"}
    assert httpx.get(f"{base_url}/api/v1/runs", headers=headers).status_code == 200


@pytest.mark.parametrize(("path", "needs_token"), [("/api/v1/runs", True), ("/healthz", False), ("/missing", True)])
def test_every_response_carries_the_security_headers(base_url: str, path: str, needs_token: bool) -> None:
    for headers in ({}, bearer("viewer")):
        answer = httpx.get(f"{base_url}{path}", headers=headers)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cross-origin-opener-policy"] == "same-origin"
        assert answer.headers["x-frame-options"] == "DENY"
        assert (answer.headers.get("cache-control") == "no-store") is path.startswith("/api")


def test_the_public_health_endpoint_needs_no_token(base_url: str) -> None:
    assert httpx.get(f"{base_url}/healthz").json()["ok"] is True


def test_without_tokens_on_loopback_everyone_is_the_local_admin(store: MemoryStore, writer: AuditWriter,
                                                               caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    with serve(build_app([TokenAuthenticator([])], writer, bind_host="127.0.0.1")) as url:
        assert httpx.delete(f"{url}/api/v1/workflows/wf").status_code == 200
    assert "authentication is off" in caplog.text
    (record,) = audit_log(store, writer)
    assert (record.actor, record.role) == ("local", "admin")


def test_without_tokens_a_non_loopback_bind_is_refused_at_start(writer: AuditWriter) -> None:
    with pytest.raises(ConfigurationError, match="without authentication"):
        build_app([TokenAuthenticator([])], writer, bind_host="0.0.0.0").build_middleware_stack()


def test_a_dead_redis_store_never_holds_a_request_and_drops_are_counted(tmp_path: Path) -> None:
    from flowbuilder_contracts.redis_server import RedisServer
    from flowbuilder_storage import RedisStore

    redis = RedisServer(tmp_path / "redis").start()
    try:
        store = RedisStore.open(redis.url + "?retry_seconds=20")  # a write to the dead server hangs 20 s
        writer = AuditWriter(store, capacity=2)
        with serve(build_app(AUTHENTICATORS, writer)) as url:
            assert httpx.post(f"{url}/api/v1/runs/r0/cancel", headers=bearer("operator")).status_code == 200
            assert writer.flush(10) and writer.stats()["written"] == 1
            redis.stop(kill=True)
            # each answer must come within httpx's timeout although each append now hangs 20 s
            answers = [httpx.post(f"{url}/api/v1/runs/r{n}/cancel", headers=bearer("operator"), timeout=5)
                       for n in range(1, 9)]  # fmt: skip
            assert [answer.status_code for answer in answers] == [200] * 8
            health = httpx.get(f"{url}/healthz").json()["audit"]
            # one record is with the stuck writer, at most two wait in the queue: the rest were dropped
            assert health["dropped"] >= 5 and health["written"] == 1
            assert health["dropped"] + health["queued"] <= 8
        writer.close(timeout=0.1)
        store.close()
    finally:
        redis.stop(kill=True)
