"""The gRPC API behind flowbuilder serve's token check (AsyncAuthInterceptor + policy.py's table), on a real server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from flowui_grpc_harness import HELLO, SLOW, Served, pb, serve

from flowbuilder.interfaces.authenticator import Role
from flowui.grpc_api.policy import METHOD_ROLES
from flowui.security.grpc_auth import AsyncAuthInterceptor
from flowui.tokens import TokenAuthenticator, TokenEntry, hash_token

TOKENS = {"v-token": "viewer", "o-token": "operator", "a-token": "admin"}


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Served]:
    tokens = TokenAuthenticator([TokenEntry(f"{role}-user", Role(role), hash_token(token))
                                 for token, role in TOKENS.items()])  # fmt: skip
    gate = AsyncAuthInterceptor(authenticators=[tokens], policy=METHOD_ROLES, bind_host="127.0.0.1")
    yield from serve(tmp_path, interceptors=(gate,))


def as_(token: str | None) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")] if token else []


def code_of(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        result = call()
        if isinstance(result, grpc.Call) and hasattr(result, "__iter__"):
            list(result)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_no_token_or_an_unknown_one_is_unauthenticated(guarded: Served) -> None:
    for token in (None, "forged"):
        metadata = as_(token)

        def validate(metadata: list[tuple[str, str]] = metadata) -> Any:
            return guarded.workflows.ValidateWorkflow(pb.WorkflowSource(yaml=HELLO), metadata=metadata)

        def stream(metadata: list[tuple[str, str]] = metadata) -> Any:
            return guarded.runs.StreamEvents(pb.StreamEventsRequest(run_id="x"), metadata=metadata)

        assert code_of(validate) is grpc.StatusCode.UNAUTHENTICATED
        assert code_of(stream) is grpc.StatusCode.UNAUTHENTICATED


def test_a_viewer_reads_but_cannot_cancel_or_start(guarded: Served) -> None:
    run_id = guarded.runs.StartRun(pb.StartRunRequest(yaml=SLOW), metadata=as_("o-token")).run_id
    status = guarded.runs.GetFlowStatus(pb.RunRef(run_id=run_id), metadata=as_("v-token"))
    assert status.summary.run_id == run_id
    cancel = lambda: guarded.runs.Cancel(pb.ControlRunRequest(run_id=run_id), metadata=as_("v-token"))  # noqa: E731
    assert code_of(cancel) is grpc.StatusCode.PERMISSION_DENIED
    execute = lambda: guarded.runs.ExecuteFlow(pb.StartRunRequest(yaml=HELLO), metadata=as_("v-token"))  # noqa: E731
    assert code_of(execute) is grpc.StatusCode.PERMISSION_DENIED
    wait_until_task_started_as_viewer(guarded, run_id)
    assert code_of(lambda: guarded.runs.Cancel(pb.ControlRunRequest(run_id=run_id), metadata=as_("a-token"))) is (
        grpc.StatusCode.OK
    )


def wait_until_task_started_as_viewer(served: Served, run_id: str) -> None:
    """The harness polls without metadata; here the stream carries a viewer's token."""
    stream = served.runs.StreamEvents(pb.StreamEventsRequest(run_id=run_id), metadata=as_("v-token"))
    for update in stream:
        if any(e.kind == "task_started" for e in update.events):
            stream.cancel()
            return
