"""AuthInterceptor on a real grpcio server on 127.0.0.1, called through a real channel."""

from __future__ import annotations

from concurrent import futures
from typing import Any, Iterator

import grpc
import pytest
from role_tokens import AUTHENTICATORS, TOKENS

from flowbuilder.audit import AuditRecord
from flowbuilder.stores.memory import MemoryStore
from flowui.security import AuditWriter, AuthInterceptor

POLICY = {"/test.Runs/List": "viewer", "/test.Runs/Watch": "viewer", "Cancel": "operator", "Delete": "admin"}
"""The shape of flowui/grpc_api/policy.py's table: RPC -> role."""


def _list(request: bytes, context: Any) -> bytes:
    return b"runs"


def _cancel(request: bytes, context: Any) -> bytes:
    if request == b"missing":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such run")
    return b"cancelled " + request


def _watch(request: bytes, context: Any) -> Iterator[bytes]:
    yield from (b"event-1", b"event-2")


@pytest.fixture
def channel(writer: AuditWriter) -> Iterator[grpc.Channel]:
    interceptor = AuthInterceptor(authenticators=AUTHENTICATORS, policy=POLICY, bind_host="127.0.0.1", audit=writer)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[interceptor])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Runs", {
        "List": grpc.unary_unary_rpc_method_handler(_list),
        "Cancel": grpc.unary_unary_rpc_method_handler(_cancel),
        "Delete": grpc.unary_unary_rpc_method_handler(_cancel),
        "Watch": grpc.unary_stream_rpc_method_handler(_watch),
    })])  # fmt: skip
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    server.stop(grace=None)


def call(channel: grpc.Channel, method: str, request: bytes, role: str | None) -> bytes:
    metadata = [("authorization", f"Bearer {TOKENS[role][0]}")] if role else []
    return channel.unary_unary(f"/test.Runs/{method}")(request, metadata=metadata, timeout=10)  # type: ignore[no-any-return]


def audit_log(store: MemoryStore, writer: AuditWriter) -> list[AuditRecord]:
    assert writer.flush(10)
    return store.read_audit(limit=100).records[::-1]


def test_no_token_is_unauthenticated(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        call(channel, "List", b"", None)
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED and "Bearer" in refused.value.details()


def test_an_unknown_token_is_unauthenticated(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary("/test.Runs/List")(b"", metadata=[("authorization", "Bearer fbt_wrong")], timeout=10)
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_a_viewer_lists_but_cannot_cancel(channel: grpc.Channel) -> None:
    assert call(channel, "List", b"", "viewer") == b"runs"
    with pytest.raises(grpc.RpcError) as refused:
        call(channel, "Cancel", b"r1", "viewer")
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED and "operator" in refused.value.details()


def test_an_operator_cancels_and_admin_implies_operator(channel: grpc.Channel) -> None:
    assert call(channel, "Cancel", b"r1", "operator") == b"cancelled r1"
    assert call(channel, "Cancel", b"r2", "admin") == b"cancelled r2"
    with pytest.raises(grpc.RpcError):
        call(channel, "Delete", b"wf", "operator")
    assert call(channel, "Delete", b"wf", "admin") == b"cancelled wf"


def test_a_streaming_rpc_is_checked_too(channel: grpc.Channel) -> None:
    stream = channel.unary_stream("/test.Runs/Watch")
    metadata = [("authorization", f"Bearer {TOKENS['viewer'][0]}")]
    assert list(stream(b"r1", metadata=metadata, timeout=10)) == [b"event-1", b"event-2"]
    with pytest.raises(grpc.RpcError) as refused:
        list(stream(b"r1", timeout=10))
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_mutating_rpcs_are_audited_with_their_status_codes(channel: grpc.Channel, store: MemoryStore,
                                                           writer: AuditWriter) -> None:  # fmt: skip
    call(channel, "List", b"", "viewer")  # reads are not audited
    call(channel, "Cancel", b'password: "hunter2-grpc"', "operator")
    with pytest.raises(grpc.RpcError):
        call(channel, "Cancel", b"missing", "operator")
    with pytest.raises(grpc.RpcError):
        call(channel, "Cancel", b"r1", "viewer")
    with pytest.raises(grpc.RpcError):
        call(channel, "Cancel", b"r1", None)
    records = audit_log(store, writer)
    assert [(r.actor, r.role, r.action, r.outcome) for r in records] == [
        ("operator-token", "operator", "/test.Runs/Cancel", "OK"),
        ("operator-token", "operator", "/test.Runs/Cancel", "NOT_FOUND"),
        ("viewer-token", "viewer", "/test.Runs/Cancel", "PERMISSION_DENIED"),
        ("anonymous", "", "/test.Runs/Cancel", "UNAUTHENTICATED"),
    ]
    assert "hunter2-grpc" not in records[0].detail and "***" in records[0].detail
    assert records[0].client.startswith("ipv4:127.0.0.1:") and records[2].detail.startswith("refused: ")


async def _acancel(request: bytes, context: Any) -> bytes:
    if request == b"missing":
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such run")
    return b"cancelled " + request


async def _awatch(request: bytes, context: Any) -> Any:
    for item in (b"event-1", b"event-2"):
        yield item


def test_the_async_interceptor_applies_the_same_rules_on_a_grpc_aio_server(store: MemoryStore,
                                                                          writer: AuditWriter) -> None:  # fmt: skip
    import asyncio

    from flowui.security import AsyncAuthInterceptor

    async def scenario() -> list[Any]:
        interceptor = AsyncAuthInterceptor(authenticators=AUTHENTICATORS, policy=POLICY, bind_host="127.0.0.1",
                                           audit=writer)  # fmt: skip
        server = grpc.aio.server(interceptors=[interceptor])
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Runs", {
            "Cancel": grpc.unary_unary_rpc_method_handler(_acancel),
            "Watch": grpc.unary_stream_rpc_method_handler(_awatch),
        })])  # fmt: skip
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        outcomes: list[Any] = []
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                cancel = channel.unary_unary("/test.Runs/Cancel")
                for role, request in (("operator", b"r1"), ("operator", b"missing"), ("viewer", b"r1"), (None, b"r1")):
                    metadata = [("authorization", f"Bearer {TOKENS[role][0]}")] if role else []
                    try:
                        outcomes.append(await cancel(request, metadata=metadata, timeout=10))
                    except grpc.aio.AioRpcError as error:
                        outcomes.append(error.code())
                watch = channel.unary_stream("/test.Runs/Watch")
                viewer = [("authorization", f"Bearer {TOKENS['viewer'][0]}")]
                outcomes.append([item async for item in watch(b"r1", metadata=viewer, timeout=10)])
        finally:
            await server.stop(None)
        return outcomes

    outcomes = asyncio.run(scenario())
    assert outcomes == [b"cancelled r1", grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED,
                        grpc.StatusCode.UNAUTHENTICATED, [b"event-1", b"event-2"]]  # fmt: skip
    records = audit_log(store, writer)
    assert [(r.actor, r.outcome) for r in records] == [("operator-token", "OK"), ("operator-token", "NOT_FOUND"),
                                                       ("viewer-token", "PERMISSION_DENIED"),
                                                       ("anonymous", "UNAUTHENTICATED")]  # fmt: skip
