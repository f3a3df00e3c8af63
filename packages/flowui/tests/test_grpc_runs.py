"""RunService through the generated client and a real server: every rpc, over RocksDB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from flowui_grpc_harness import (
    HELLO,
    SLOW,
    Served,
    pb,
    pb_grpc,
    served,
    wait_for_status,
    wait_until_task_started,
)

__all__ = ["served"]  # the fixture, imported for the tests below


def start_slow(served: Served, **fields: object) -> str:
    run_id = served.runs.StartRun(pb.StartRunRequest(yaml=SLOW, **fields)).run_id  # type: ignore[arg-type]
    wait_until_task_started(served, run_id, "wait")
    return run_id


def history(served: Served, run_id: str) -> list[pb.RunEvent]:
    return [e for update in served.runs.StreamEvents(pb.StreamEventsRequest(run_id=run_id)) for e in update.events]


def test_execute_flow_streams_the_run_from_created_to_finished(served: Served) -> None:
    events = list(served.runs.ExecuteFlow(pb.StartRunRequest(yaml=HELLO, params_json="")))
    assert events[0].kind == "run_created" and events[-1].kind == "run_finished"
    assert json.loads(events[-1].data_json)["status"] == "succeeded"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    outputs = {e.task: json.loads(e.data_json)["output"] for e in events if e.kind == "task_succeeded"}
    assert outputs == {"first": "one", "second": "two"}
    # the same run, as the store recorded it
    assert [e.seq for e in history(served, events[0].run_id)] == [e.seq for e in events]


def test_execute_flow_stream_ends_with_the_cancel_another_client_asked_for(served: Served) -> None:
    seen: list[pb.RunEvent] = []
    started = threading.Event()
    failure: list[BaseException] = []

    def follow() -> None:  # client A: its own channel
        channel = grpc.insecure_channel(served.address)
        try:
            for event in pb_grpc.RunServiceStub(channel).ExecuteFlow(pb.StartRunRequest(yaml=SLOW, run_id="to-cancel")):
                seen.append(event)
                if event.kind == "task_started" and event.task == "wait":
                    started.set()
        except BaseException as error:
            failure.append(error)
        finally:
            channel.close()
            started.set()

    follower = threading.Thread(target=follow)
    follower.start()
    assert started.wait(30) and not failure
    reply = served.runs.Cancel(pb.ControlRunRequest(run_id="to-cancel", reason="client B says stop"))  # client B
    follower.join(30)
    assert not follower.is_alive() and not failure
    assert reply.run_id == "to-cancel"
    assert seen[-1].kind == "run_finished" and json.loads(seen[-1].data_json)["status"] == "cancelled"
    assert "after" not in {e.task for e in seen if e.kind == "task_started"}
    assert served.runs.GetFlowStatus(pb.RunRef(run_id="to-cancel")).summary.status == "cancelled"


def test_start_run_returns_at_once_and_status_follows_the_run(served: Served) -> None:
    reply = served.runs.StartRun(pb.StartRunRequest(yaml=HELLO, run_id="run-1"))
    assert (reply.run_id, reply.workflow) == ("run-1", "hello")
    status = wait_for_status(served, "run-1", {"succeeded", "failed"})
    assert status.summary.status == "succeeded" and status.summary.HasField("finished_at")
    assert [(t.name, t.status, t.attempts) for t in status.tasks] == [("first", "succeeded", 1),
                                                                      ("second", "succeeded", 1)]  # fmt: skip
    assert not status.paused


def test_start_run_of_a_stored_version(served: Served) -> None:
    served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=HELLO))
    served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=HELLO.replace("echo two", "echo 2")))
    for version, expected in ((1, "two"), (0, "2")):
        ref = pb.StoredWorkflowRef(workflow="hello", version=version)
        events = list(served.runs.ExecuteFlow(pb.StartRunRequest(stored=ref)))
        outputs = {e.task: json.loads(e.data_json)["output"] for e in events if e.kind == "task_succeeded"}
        assert outputs["second"] == expected
    with pytest.raises(grpc.RpcError) as caught:
        served.runs.StartRun(pb.StartRunRequest(stored=pb.StoredWorkflowRef(workflow="hello", version=9)))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


def test_query_executions_filters_and_pages(served: Served) -> None:
    for n in range(5):
        list(served.runs.ExecuteFlow(pb.StartRunRequest(yaml=HELLO, run_id=f"h{n}")))
    list(served.runs.ExecuteFlow(pb.StartRunRequest(yaml=HELLO.replace("echo two", "exit 3"), run_id="bad")))
    everything = served.runs.QueryExecutions(pb.QueryExecutionsRequest())
    assert {r.run_id for r in everything.runs} == {"h0", "h1", "h2", "h3", "h4", "bad"}
    failed = served.runs.QueryExecutions(pb.QueryExecutionsRequest(status="failed"))
    assert [r.run_id for r in failed.runs] == ["bad"]
    pages, cursor = [], ""
    while True:
        page = served.runs.QueryExecutions(pb.QueryExecutionsRequest(workflow="hello", limit=4, cursor=cursor))
        pages.append([r.run_id for r in page.runs])
        cursor = page.next_cursor
        if not cursor:
            break
    assert [len(p) for p in pages] == [4, 2]
    assert sorted(run for page in pages for run in page) == ["bad", "h0", "h1", "h2", "h3", "h4"]
    assert served.runs.QueryExecutions(pb.QueryExecutionsRequest(workflow="other")).runs == []


def test_stream_events_gives_the_history_after_a_seq_then_live_updates(served: Served) -> None:
    run_id = start_slow(served, params_json='{"seconds": 30}')
    served.runs.AddAnnotation(pb.AddAnnotationRequest(run_id=run_id, kind="note", payload_json='{"text": "hi"}'))
    stream = served.runs.StreamEvents(pb.StreamEventsRequest(run_id=run_id, after_seq=1))
    first = next(stream)
    assert first.events[0].seq == 2  # history after seq 1
    kinds = [e.kind for e in first.events]
    assert "task_started" in kinds
    served.runs.Cancel(pb.ControlRunRequest(run_id=run_id))  # live: the run's end arrives on the open stream
    rest = list(stream)
    events = [*first.events, *(e for u in rest for e in u.events)]
    notes = [*first.annotations, *(a for u in rest for a in u.annotations)]
    assert events[-1].kind == "run_finished" and [e.seq for e in events] == list(range(2, events[-1].seq + 1))
    assert [(n.kind, json.loads(n.payload_json)) for n in notes] == [("note", {"text": "hi"})]


def test_stream_events_of_a_finished_run_ends_after_its_history(served: Served) -> None:
    events = list(served.runs.ExecuteFlow(pb.StartRunRequest(yaml=HELLO, run_id="done")))
    updates = list(served.runs.StreamEvents(pb.StreamEventsRequest(run_id="done", after_seq=len(events) - 2)))
    assert [e.seq for u in updates for e in u.events] == [len(events) - 1, len(events)]


def test_pause_and_unpause_are_recorded_in_the_run(served: Served) -> None:
    run_id = start_slow(served)
    paused = served.runs.Pause(pb.ControlRunRequest(run_id=run_id, reason="lunch"))
    assert paused.request_number == 1
    assert wait_for_paused(served, run_id, True)
    unpaused = served.runs.Unpause(pb.ControlRunRequest(run_id=run_id))
    assert unpaused.request_number == 2
    assert wait_for_paused(served, run_id, False)
    served.runs.Cancel(pb.ControlRunRequest(run_id=run_id))
    events = history(served, run_id)
    recorded = {e.kind: json.loads(e.data_json) for e in events if e.kind in ("run_paused", "run_unpaused")}
    assert recorded["run_paused"]["reason"] == "lunch" and recorded["run_paused"]["by"].startswith("grpc:")


def wait_for_paused(served: Served, run_id: str, paused: bool) -> bool:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if served.runs.GetFlowStatus(pb.RunRef(run_id=run_id)).paused is paused:
            return True
        time.sleep(0.05)
    return False


def test_signal_reaches_the_run_with_its_payload(served: Served) -> None:
    run_id = start_slow(served)
    reply = served.runs.Signal(pb.SignalRequest(run_id=run_id, name="go", payload_json='{"n": [1, 2]}'))
    assert reply.request_number == 1
    stream = served.runs.StreamEvents(pb.StreamEventsRequest(run_id=run_id))
    for update in stream:
        signalled = [e for e in update.events if e.kind == "run_signalled"]
        if signalled:
            data = json.loads(signalled[0].data_json)
            assert (data["name"], data["payload"], data["request"]) == ("go", {"n": [1, 2]}, 1)
            break
    stream.cancel()
    served.runs.Cancel(pb.ControlRunRequest(run_id=run_id))


def test_annotations_are_added_and_listed_after_a_number(served: Served) -> None:
    list(served.runs.ExecuteFlow(pb.StartRunRequest(yaml=HELLO, run_id="noted")))
    first = served.runs.AddAnnotation(pb.AddAnnotationRequest(run_id="noted", kind="note", payload_json='"looks fine"'))
    second = served.runs.AddAnnotation(pb.AddAnnotationRequest(run_id="noted", kind="anomaly", task="second",
                                                               attempt=1, payload_json='{"score": 0.9}'))  # fmt: skip
    assert (first.number, second.number) == (1, 2)
    assert first.author.startswith("grpc:") and not first.HasField("attempt") and second.attempt == 1
    listed = served.runs.ListAnnotations(pb.ListAnnotationsRequest(run_id="noted")).annotations
    assert [(a.kind, a.task, json.loads(a.payload_json)) for a in listed] == [
        ("note", "", "looks fine"),
        ("anomaly", "second", {"score": 0.9}),
    ]
    after = served.runs.ListAnnotations(pb.ListAnnotationsRequest(run_id="noted", after=1)).annotations
    assert [a.number for a in after] == [2]


def test_retry_runs_the_failed_task_again_under_the_same_run(served: Served, tmp_path: Path) -> None:
    marker = tmp_path / "fixed"
    workflow = HELLO.replace('"echo two"', f'"test -f {marker} && echo fixed"')
    events = list(served.runs.ExecuteFlow(pb.StartRunRequest(yaml=workflow, run_id="flaky")))
    assert json.loads(events[-1].data_json)["status"] == "failed"
    marker.touch()
    reply = served.runs.Retry(pb.RetryRequest(run_id="flaky"))
    assert reply.run_id == "flaky"
    status = wait_for_status(served, "flaky", {"succeeded", "failed", "cancelled"})
    assert status.summary.status == "succeeded"
    assert {t.name: t.attempts for t in status.tasks} == {"first": 1, "second": 2}


def test_resume_continues_a_run_whose_process_was_killed(served: Served, tmp_path: Path) -> None:
    """Another process ran it (through the server's RocksDB store) and died; the server resumes it."""
    marker = tmp_path / "resumed"
    (tmp_path / "slow.yaml").write_text(SLOW.replace('"sleep ${{ params.seconds }}"',
                                                     f'"test -f {marker} && echo resumed || sleep 60"'))  # fmt: skip
    process = subprocess.Popen([str(Path(sys.executable).with_name("flowbuilder")), "run", str(tmp_path / "slow.yaml"), "--json",
                                "--store", f"rocksdb://{tmp_path}/db"], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    try:
        run_id = None
        assert process.stdout is not None
        for line in process.stdout:
            event = json.loads(line)
            run_id = event.get("run_id", run_id)
            if event.get("kind") == "task_started" and event.get("task") == "wait":
                break
        assert run_id is not None
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert wait_for_status(served, run_id, {"interrupted"}).summary.status == "interrupted"
    marker.touch()
    assert served.runs.Resume(pb.ResumeRequest(run_id=run_id)).workflow == "slow"
    status = wait_for_status(served, run_id, {"succeeded", "failed", "cancelled"})
    assert status.summary.status == "succeeded"
    assert [(t.name, t.status) for t in status.tasks] == [("wait", "succeeded"), ("after", "succeeded")]


def test_a_long_history_is_cut_into_bounded_updates() -> None:
    from flowbuilder import Annotation, EventKind, RunEvent
    from flowui.grpc_api.runs import UPDATE_BYTES, UPDATE_EVENTS, _cut

    events = [RunEvent("r", n, EventKind.TASK_ANNOTATED, task="t", data={"n": n}) for n in range(1, 1201)]
    messages = _cut(events, [Annotation("note", number=1)])
    assert [len(m.events) for m in messages] == [UPDATE_EVENTS, UPDATE_EVENTS, 1200 - 2 * UPDATE_EVENTS]
    assert [len(m.annotations) for m in messages] == [0, 0, 1]
    big = [RunEvent("r", n, EventKind.TASK_SUCCEEDED, task="t", data={"output": "x" * (UPDATE_BYTES // 2)})
           for n in range(1, 4)]  # fmt: skip
    assert [len(m.events) for m in _cut(big, [])] == [1, 1, 1]  # each pair would pass the byte bound
    assert [e.seq for m in _cut(big, []) for e in m.events] == [1, 2, 3]


def test_dropping_the_execute_flow_call_leaves_the_run_running(served: Served) -> None:
    stream = served.runs.ExecuteFlow(pb.StartRunRequest(yaml=SLOW, params_json='{"seconds": 1}', run_id="left"))
    for event in stream:
        if event.kind == "task_started":
            break
    stream.cancel()
    assert wait_for_status(served, "left", {"succeeded", "failed", "cancelled"}).summary.status == "succeeded"
