"""``flowbuilder.v1.WorkflowService``: compile, validate, store and list workflows.

Compiling is core's (:func:`flowbuilder.loader.load_workflow`, :func:`~flowbuilder.loader.plan_workflow`),
run on a worker thread so a large file does not stall the server's event loop; versions are
:mod:`flowui.workflow_catalog`'s.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import WorkflowError
from flowbuilder.interfaces.definitions import definition_hash
from flowui import workflow_catalog
from flowui.grpc_api import _messages as convert
from flowui.grpc_api._compile import compile_text
from flowui.grpc_api._generated import flowbuilder_pb2 as pb
from flowui.grpc_api._generated import flowbuilder_pb2_grpc as pb_grpc
from flowui.grpc_api._status import BadRequest, unary

if TYPE_CHECKING:
    import grpc

    from flowbuilder import PluginHost, Store

    Context = grpc.aio.ServicerContext[Any, Any]


class WorkflowServicer(pb_grpc.WorkflowServiceServicer):
    """Workflows of one plugin host (task types, compile passes) and one store."""

    def __init__(self, host: PluginHost, store: Store):
        self.host = host
        self.store = store

    @unary
    async def CompileWorkflow(self, request: pb.WorkflowSource, context: Context) -> pb.CompileWorkflowResponse:
        try:
            compiled = await asyncio.to_thread(compile_text, self.host, request.yaml, request.filename)
        except WorkflowError as error:
            return pb.CompileWorkflowResponse(valid=False, errors=[convert.diagnostic(d) for d in error.diagnostics])
        plan = compiled.plan
        digest = definition_hash(compiled.definition or b"")
        return pb.CompileWorkflowResponse(valid=True, warnings=[convert.diagnostic(d) for d in plan.warnings],
                                          workflow=convert.compiled_workflow(plan, digest))  # fmt: skip

    @unary
    async def ValidateWorkflow(self, request: pb.WorkflowSource, context: Context) -> pb.ValidateWorkflowResponse:
        try:
            compiled = await asyncio.to_thread(compile_text, self.host, request.yaml, request.filename)
        except WorkflowError as error:
            return pb.ValidateWorkflowResponse(valid=False, errors=[convert.diagnostic(d) for d in error.diagnostics])
        return pb.ValidateWorkflowResponse(valid=True, warnings=[convert.diagnostic(d) for d in compiled.plan.warnings])

    @unary
    async def StoreWorkflow(self, request: pb.WorkflowSource, context: Context) -> pb.StoreWorkflowResponse:
        compiled = await asyncio.to_thread(compile_text, self.host, request.yaml, request.filename)
        workflow = compiled.plan.workflow
        version, created = await asyncio.to_thread(workflow_catalog.store_version, self.store, workflow.name,
                                                   compiled.definition or b"", str(workflow.version))  # fmt: skip
        return pb.StoreWorkflowResponse(version=convert.workflow_version(version), created=created)

    @unary
    async def ListWorkflows(self, request: pb.ListWorkflowsRequest, context: Context) -> pb.ListWorkflowsResponse:
        def listing() -> list[pb.WorkflowListing]:
            found = []
            for name in workflow_catalog.list_workflows(self.store):
                versions = workflow_catalog.list_versions(self.store, name)
                if versions:  # a name whose first version was never claimed (a killed process)
                    found.append(pb.WorkflowListing(name=name, latest=convert.workflow_version(versions[-1])))
            return found

        return pb.ListWorkflowsResponse(workflows=await asyncio.to_thread(listing))

    @unary
    async def ListVersions(self, request: pb.ListVersionsRequest, context: Context) -> pb.ListVersionsResponse:
        if not request.workflow:
            raise BadRequest("workflow is empty; name the workflow whose versions to list")
        versions = await asyncio.to_thread(workflow_catalog.list_versions, self.store, request.workflow)
        if not versions:
            raise workflow_catalog.UnknownWorkflowError(f"no stored workflow {request.workflow!r}; store it first")
        return pb.ListVersionsResponse(versions=[convert.workflow_version(v) for v in versions])


__all__ = ["WorkflowServicer"]
