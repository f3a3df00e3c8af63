"""Hostile and wrong requests get a precise status and a one-line reason; never UNKNOWN or INTERNAL."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from flowui_grpc_harness import BROKEN, HELLO, SLOW, Served, pb, served, wait_until_task_started

from flowui.grpc_api import MAX_REQUEST_BYTES

__all__ = ["served"]  # the fixture, imported for the tests below

GUARDED = """\
name: guarded
params:
  token: {type: integer, secret: true}
tasks:
  - name: use
    type: shell
    config: {command: "echo ok"}
"""


def consume(result: Any) -> None:
    """Read a stream to its end (a stream's error comes when it is read)."""
    if isinstance(result, grpc.Call) and hasattr(result, "__iter__"):
        list(result)


def refused(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        consume(call())
    error = caught.value
    assert error.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), error.details()
    assert "\n" not in error.details() and "Traceback" not in error.details()
    return error


def test_a_broken_workflow_is_refused_with_its_located_reason(served: Served) -> None:
    for call in (served.runs.StartRun, served.runs.ExecuteFlow):
        error = refused(lambda call=call: call(pb.StartRunRequest(yaml=BROKEN)))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert error.details().startswith("<request>:5:18: task 'first' depends on unknown task 'nowhere'")
    assert served.runs.QueryExecutions(pb.QueryExecutionsRequest()).runs == []


def test_no_workflow_is_an_invalid_argument(served: Served) -> None:
    error = refused(lambda: served.runs.StartRun(pb.StartRunRequest()))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT and "give `yaml`" in error.details()


@pytest.mark.parametrize(
    ("params_json", "reason"),
    [
        ("{not json", "params_json is not JSON"),
        ("[1, 2]", "params_json must be a JSON object"),
        ('{"nope": 1}', "unknown param 'nope'"),
        ('{"seconds": "many"}', "seconds"),
        ('{"seconds": NaN}', "params_json is not JSON"),
    ],
)
def test_bad_params_are_invalid_arguments(served: Served, params_json: str, reason: str) -> None:
    error = refused(lambda: served.runs.StartRun(pb.StartRunRequest(yaml=SLOW, params_json=params_json)))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert reason in error.details()


def test_a_secret_params_value_never_comes_back_in_the_reason(served: Served) -> None:
    error = refused(lambda: served.runs.StartRun(pb.StartRunRequest(yaml=GUARDED,
                                                                     params_json='{"token": "hunter2-secret"}')))  # fmt: skip
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "token" in error.details() and "hunter2-secret" not in error.details()


def test_a_bad_run_id_and_a_taken_one(served: Served) -> None:
    error = refused(lambda: served.runs.StartRun(pb.StartRunRequest(yaml=HELLO, run_id="../etc/passwd")))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    list(served.runs.ExecuteFlow(pb.StartRunRequest(yaml=HELLO, run_id="once")))
    error = refused(lambda: served.runs.StartRun(pb.StartRunRequest(yaml=HELLO, run_id="once")))
    assert error.code() is grpc.StatusCode.ALREADY_EXISTS


def test_an_unknown_run_is_not_found_for_every_call_that_names_one(served: Served) -> None:
    runs = served.runs
    calls: list[Callable[[], Any]] = [
        lambda: runs.GetFlowStatus(pb.RunRef(run_id="ghost")),
        lambda: runs.StreamEvents(pb.StreamEventsRequest(run_id="ghost")),
        lambda: runs.Cancel(pb.ControlRunRequest(run_id="ghost")),
        lambda: runs.Pause(pb.ControlRunRequest(run_id="ghost")),
        lambda: runs.Unpause(pb.ControlRunRequest(run_id="ghost")),
        lambda: runs.Signal(pb.SignalRequest(run_id="ghost", name="go")),
        lambda: runs.Resume(pb.ResumeRequest(run_id="ghost")),
        lambda: runs.Retry(pb.RetryRequest(run_id="ghost")),
        lambda: runs.ListAnnotations(pb.ListAnnotationsRequest(run_id="ghost")),
        lambda: runs.AddAnnotation(pb.AddAnnotationRequest(run_id="ghost", kind="note")),
    ]
    for call in calls:
        error = refused(call)
        assert error.code() is grpc.StatusCode.NOT_FOUND, error.details()
        assert "ghost" in error.details()


def test_an_empty_run_id_is_an_invalid_argument(served: Served) -> None:
    error = refused(lambda: served.runs.GetFlowStatus(pb.RunRef()))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_a_finished_run_refuses_control_and_resume(served: Served) -> None:
    list(served.runs.ExecuteFlow(pb.StartRunRequest(yaml=HELLO, run_id="over")))
    for call in (
        lambda: served.runs.Cancel(pb.ControlRunRequest(run_id="over")),
        lambda: served.runs.Pause(pb.ControlRunRequest(run_id="over")),
        lambda: served.runs.Resume(pb.ResumeRequest(run_id="over")),
        lambda: served.runs.Retry(pb.RetryRequest(run_id="over")),  # succeeded: nothing to retry
    ):
        error = refused(call)
        assert error.code() is grpc.StatusCode.FAILED_PRECONDITION, error.details()


def test_resuming_a_run_that_is_running_here_is_refused(served: Served) -> None:
    run_id = served.runs.StartRun(pb.StartRunRequest(yaml=SLOW)).run_id
    wait_until_task_started(served, run_id, "wait")
    error = refused(lambda: served.runs.Resume(pb.ResumeRequest(run_id=run_id)))
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION and "still running" in error.details()
    served.runs.Cancel(pb.ControlRunRequest(run_id=run_id))


def test_bad_signals_and_annotations_are_invalid_arguments(served: Served) -> None:
    run_id = served.runs.StartRun(pb.StartRunRequest(yaml=SLOW)).run_id
    wait_until_task_started(served, run_id, "wait")
    for call in (
        lambda: served.runs.Signal(pb.SignalRequest(run_id=run_id, name="no spaces allowed")),
        lambda: served.runs.Signal(pb.SignalRequest(run_id=run_id, name="go", payload_json="{oops")),
        lambda: served.runs.Signal(pb.SignalRequest(run_id=run_id, name="go", payload_json=json.dumps("x" * 20000))),
        lambda: served.runs.Pause(pb.ControlRunRequest(run_id=run_id, reason="r" * 5000)),
        lambda: served.runs.AddAnnotation(pb.AddAnnotationRequest(run_id=run_id, kind="9bad")),
        lambda: served.runs.AddAnnotation(
            pb.AddAnnotationRequest(run_id=run_id, kind="note", payload_json=json.dumps("y" * 70000))
        ),
    ):
        error = refused(call)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, error.details()
    # A task the live run does not have (its definition names them all): refused as REST and the CLI refuse it.
    error = refused(lambda: served.runs.AddAnnotation(pb.AddAnnotationRequest(run_id=run_id, kind="note", task="wiat")))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f"run {run_id} has no task 'wiat' (its tasks: after, wait)"
    assert served.runs.ListAnnotations(pb.ListAnnotationsRequest(run_id=run_id)).annotations == []
    served.runs.Cancel(pb.ControlRunRequest(run_id=run_id))


def test_bad_queries_are_invalid_arguments(served: Served) -> None:
    for request in (
        pb.QueryExecutionsRequest(status="sleeping"),
        pb.QueryExecutionsRequest(limit=100000),
        pb.QueryExecutionsRequest(cursor="not-a-cursor"),
        pb.QueryExecutionsRequest(since=float("nan")),
    ):
        error = refused(lambda request=request: served.runs.QueryExecutions(request))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, error.details()


def test_a_message_over_the_limit_is_resource_exhausted(served: Served) -> None:
    huge = "name: huge\n# " + "x" * MAX_REQUEST_BYTES + "\ntasks: []\n"
    error = refused(lambda: served.workflows.ValidateWorkflow(pb.WorkflowSource(yaml=huge)))
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert served.workflows.ValidateWorkflow(pb.WorkflowSource(yaml=HELLO)).valid  # the server is fine


def test_a_request_that_is_not_valid_protobuf_is_an_invalid_argument(served: Served) -> None:
    """A string field holding bytes that are not UTF-8 (a non-Python client can send them)."""
    raw = served.channel.unary_unary("/flowbuilder.v1.WorkflowService/ValidateWorkflow")
    field_1 = b"\x0a\x04\xff\xfe\xfd\xfc"  # field 1 (yaml), length 4, invalid UTF-8
    error = refused(lambda: raw(field_1))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT and "UTF-8" in error.details()
    truncated = b"\x0a\x40abc"
    assert refused(lambda: raw(truncated)).code() is grpc.StatusCode.INVALID_ARGUMENT
    stream = served.channel.unary_stream("/flowbuilder.v1.RunService/StreamEvents")
    assert refused(lambda: stream(b"\x0a\x02\xc3\x28")).code() is grpc.StatusCode.INVALID_ARGUMENT


def test_hostile_json_huge_positions_a_reserved_kind_and_a_key_the_store_refuses_are_invalid_arguments(
    served: Served,
) -> None:
    """Each was INTERNAL (a lone surrogate failed in the store's encoding, deep JSON raised
    RecursionError, RocksDB could not pack 2**64 - 1 into an annotation key), accepted (the
    ``audit`` kind, which REST refuses) or UNAVAILABLE (a request the store refuses, which a
    client's retry policy would send again and again)."""
    run_id = served.runs.StartRun(pb.StartRunRequest(yaml=SLOW)).run_id
    wait_until_task_started(served, run_id, "wait")
    WHO = "name: who\nparams:\n  who: {type: string}\ntasks:\n  - {name: a, type: shell, config: {command: echo}}\n"
    deep = '{"seconds": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for call, reason in (
        (lambda: served.runs.StartRun(pb.StartRunRequest(yaml=WHO, params_json='{"who": "\\ud800"}')), "surrogate"),
        (lambda: served.runs.StartRun(pb.StartRunRequest(yaml=SLOW, params_json=deep)), "nested too deeply"),
        (lambda: served.runs.AddAnnotation(pb.AddAnnotationRequest(run_id=run_id, kind="audit")), "reserved"),
        (lambda: served.runs.ListAnnotations(pb.ListAnnotationsRequest(run_id=run_id, after=2**64 - 1)), "after"),
        (lambda: served.runs.StreamEvents(pb.StreamEventsRequest(run_id=run_id, after_annotation=2**64 - 1)), "after"),
        (lambda: served.workflows.ListVersions(pb.ListVersionsRequest(workflow="w" * 5000)), "1024"),
    ):
        error = refused(call)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT and reason in error.details(), error.details()
    assert served.runs.ListAnnotations(pb.ListAnnotationsRequest(run_id=run_id)).annotations == []
    served.runs.Cancel(pb.ControlRunRequest(run_id=run_id))
