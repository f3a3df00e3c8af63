"""A real gRPC server for the tests: flowui's servicers over a RocksDB store in tmp_path,
served on a free 127.0.0.1 port by grpc.aio on an event loop of its own thread (the loop
the runs it starts execute on), and the generated client over a real channel.

Imported by path (the test files put this folder on sys.path): the name is unique across
the repository's test folders.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import grpc
import pytest

from flowbuilder import Store, build_plugin_host
from flowbuilder.run_service import RunService
from flowui.grpc_api import CLIENT_OPTIONS, start_grpc_server, stop_grpc_server
from flowui.grpc_api._generated import flowbuilder_pb2 as pb
from flowui.grpc_api._generated import flowbuilder_pb2_grpc as pb_grpc

HELLO = """\
name: hello
version: "1.0"
tasks:
  - name: first
    type: shell
    config: {command: "echo one"}
  - name: second
    type: shell
    depends_on: [first]
    config: {command: "echo two"}
"""

SLOW = """\
name: slow
params:
  seconds: {type: integer, default: 30}
tasks:
  - name: wait
    type: shell
    config: {command: "sleep ${{ params.seconds }}"}
  - name: after
    type: shell
    depends_on: [wait]
    config: {command: "echo after"}
"""

BROKEN = """\
name: broken
tasks:
  - name: first
    type: shell
    depends_on: [nowhere]
    config: {command: "echo one"}
"""


@dataclass
class Served:
    """A running server and what a test needs to reach it."""

    port: int
    store: Store
    service: RunService
    loop: asyncio.AbstractEventLoop
    channel: grpc.Channel
    workflows: Any
    runs: Any

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def serve(tmp_path: Path, interceptors: tuple[Any, ...] = ()) -> Iterator[Served]:
    host = build_plugin_host()
    store = host.open_store(f"rocksdb://{tmp_path}/db")
    service = RunService(host, store)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    found: dict[str, Any] = {}

    def run_loop() -> None:
        asyncio.set_event_loop(loop)
        try:
            found["server"], found["port"] = loop.run_until_complete(
                start_grpc_server(service, store, port=0, interceptors=interceptors)
            )
        except BaseException as error:
            found["error"] = error
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run_loop, name="grpc-test-server", daemon=True)
    thread.start()
    assert ready.wait(30), "the gRPC server did not start"
    if "error" in found:
        raise found["error"]
    channel = grpc.insecure_channel(f"127.0.0.1:{found['port']}", options=list(CLIENT_OPTIONS))
    served = Served(found["port"], store, service, loop, channel, pb_grpc.WorkflowServiceStub(channel),
                    pb_grpc.RunServiceStub(channel))  # fmt: skip
    try:
        yield served
    finally:
        channel.close()
        asyncio.run_coroutine_threadsafe(stop_grpc_server(found["server"], 0.5), loop).result(30)
        asyncio.run_coroutine_threadsafe(_cancel_runs(service), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        service.close()
        store.close()


async def _cancel_runs(service: RunService) -> None:
    """End what the test left running (a slow run) before the store closes."""
    from flowbuilder import RunStatus

    for summary in service.store.list_runs(status=RunStatus.RUNNING, limit=500).runs:
        service.cancel(summary.run_id, "test over")
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    if pending:
        await asyncio.wait(pending, timeout=20)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


def wait_for_status(served: Served, run_id: str, wanted: set[str], timeout: float = 30) -> pb.FlowStatus:
    """Poll GetFlowStatus until the run's status is one of ``wanted`` (the test's patience, not a timing claim)."""
    deadline = time.monotonic() + timeout
    while True:
        status = served.runs.GetFlowStatus(pb.RunRef(run_id=run_id))
        if status.summary.status in wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def wait_until_task_started(served: Served, run_id: str, task: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = served.runs.GetFlowStatus(pb.RunRef(run_id=run_id))
        except grpc.RpcError:
            status = None
        if status is not None and any(t.name == task and t.status == "running" for t in status.tasks):
            return
        time.sleep(0.05)
    raise AssertionError(f"task {task} of run {run_id} did not start")
