"""WorkflowService through the generated client and a real server: compile, validate, store, list."""

from __future__ import annotations

import sys
from pathlib import Path

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from flowui_grpc_harness import BROKEN, HELLO, Served, pb, served

__all__ = ["served"]  # the fixture, imported for the tests below


def code_of(call: object) -> grpc.StatusCode:
    assert isinstance(call, grpc.RpcError)
    return call.code()  # type: ignore[no-any-return]


def test_compile_returns_the_tasks_their_dependencies_and_types(served: Served) -> None:
    reply = served.workflows.CompileWorkflow(pb.WorkflowSource(yaml=HELLO))
    assert reply.valid and not reply.errors
    tasks = {task.name: task for task in reply.workflow.tasks}
    assert [t.name for t in reply.workflow.tasks] == ["first", "second"]
    assert tasks["second"].type == "shell" and list(tasks["second"].depends_on) == ["first"]
    assert (tasks["first"].level, tasks["second"].level) == (0, 1)
    assert reply.workflow.name == "hello" and reply.workflow.version == "1.0"
    assert len(reply.workflow.definition_hash) == 64


def test_compile_of_an_invalid_workflow_gives_located_errors_not_an_error_status(served: Served) -> None:
    reply = served.workflows.CompileWorkflow(pb.WorkflowSource(yaml=BROKEN, filename="mine.yaml"))
    assert not reply.valid and not reply.HasField("workflow")
    [error] = reply.errors
    assert (error.file, error.line, error.column) == ("mine.yaml", 5, 18)
    assert "nowhere" in error.message


def test_validate_locates_a_yaml_syntax_error(served: Served) -> None:
    reply = served.workflows.ValidateWorkflow(pb.WorkflowSource(yaml="name: x\ntasks: [\n  {name: a\n"))
    assert not reply.valid
    assert reply.errors and reply.errors[0].file == "<request>" and reply.errors[0].line >= 2
    assert served.workflows.ValidateWorkflow(pb.WorkflowSource(yaml=HELLO)).valid


def test_validate_refuses_what_is_not_a_workflow_with_located_errors(served: Served) -> None:
    for text in ("", "- just\n- a list\n", "\x00\x01 binary"):
        reply = served.workflows.ValidateWorkflow(pb.WorkflowSource(yaml=text))
        assert not reply.valid and reply.errors[0].line >= 1, text


def test_store_numbers_versions_and_keeps_the_same_text_once(served: Served) -> None:
    first = served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=HELLO))
    again = served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=HELLO))
    second = served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=HELLO.replace("echo two", "echo 2")))
    assert (first.version.number, first.created) == (1, True)
    assert (again.version.number, again.created) == (1, False)
    assert (second.version.number, second.created) == (2, True)
    assert first.version.definition_hash != second.version.definition_hash
    assert first.version.declared_version == "1.0"
    # the text is kept by the store under the hash runs record
    assert served.store.load_definition(second.version.definition_hash).decode() == HELLO.replace("echo two", "echo 2")


def test_store_refuses_an_invalid_workflow_with_the_located_reason(served: Served) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=BROKEN))
    assert code_of(caught.value) is grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("<request>:5:18: task 'first' depends on unknown task 'nowhere'")
    assert served.workflows.ListWorkflows(pb.ListWorkflowsRequest()).workflows == []


def test_list_workflows_and_versions(served: Served) -> None:
    served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=HELLO))
    served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=HELLO.replace("echo one", "echo 1")))
    served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=BROKEN.replace("depends_on: [nowhere]", "")))
    listing = served.workflows.ListWorkflows(pb.ListWorkflowsRequest())
    assert [(w.name, w.latest.number) for w in listing.workflows] == [("hello", 2), ("broken", 1)]
    versions = served.workflows.ListVersions(pb.ListVersionsRequest(workflow="hello")).versions
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].stored_at <= versions[1].stored_at


def test_list_versions_of_an_unknown_workflow_is_not_found(served: Served) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        served.workflows.ListVersions(pb.ListVersionsRequest(workflow="nothing"))
    assert code_of(caught.value) is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        served.workflows.ListVersions(pb.ListVersionsRequest())
    assert code_of(caught.value) is grpc.StatusCode.INVALID_ARGUMENT


def test_versions_stored_at_once_from_many_threads_get_distinct_numbers(served: Served) -> None:
    """The number is a claimed key: racing writers never overwrite each other's version."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [HELLO.replace("echo two", f"echo {n}") for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda text: served.workflows.StoreWorkflow(pb.WorkflowSource(yaml=text)), texts))
    assert sorted(r.version.number for r in replies) == list(range(1, 9))
    versions = served.workflows.ListVersions(pb.ListVersionsRequest(workflow="hello")).versions
    assert {v.definition_hash for v in versions} == {r.version.definition_hash for r in replies}
    assert [w.name for w in served.workflows.ListWorkflows(pb.ListWorkflowsRequest()).workflows] == ["hello"]


def test_a_sub_workflow_file_is_refused_where_it_is_named(served: Served) -> None:
    """The server never reads a file a client names (the rule REST shares: flowui.posted_workflows)."""
    sent = "name: sneaky\ntasks:\n  - name: child\n    type: workflow\n    config: {path: /etc/hostname}\n"
    reply = served.workflows.ValidateWorkflow(pb.WorkflowSource(yaml=sent))
    assert not reply.valid
    assert [(e.line, e.column) for e in reply.errors] == [(5, 20)]
    assert "cannot name a sub-workflow file" in reply.errors[0].message
