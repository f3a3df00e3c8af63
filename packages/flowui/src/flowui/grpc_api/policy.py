"""Which role each gRPC method needs: the one table the token check reads.

``viewer`` may read (compile and validate change nothing, so they are reads too);
``operator`` may change something: store a workflow, start, steer, resume or retry a run,
annotate it. The integrator's interceptor (``start_grpc_server(..., interceptors=...)``)
looks the called method up here with :func:`required_role`; a method missing from the
table needs ``admin``, so a method added to the protos without a line here is closed
rather than open (and ``test_grpc_policy.py`` fails until it has one).

This module imports nothing of grpc: the security layer may read it without the gRPC stack.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final, Mapping

VIEWER: Final = "viewer"
OPERATOR: Final = "operator"
ADMIN: Final = "admin"

_WORKFLOWS = "/flowbuilder.v1.WorkflowService/"
_RUNS = "/flowbuilder.v1.RunService/"

METHOD_ROLES: Final[Mapping[str, str]] = MappingProxyType(
    {
        _WORKFLOWS + "CompileWorkflow": VIEWER,
        _WORKFLOWS + "ValidateWorkflow": VIEWER,
        _WORKFLOWS + "ListWorkflows": VIEWER,
        _WORKFLOWS + "ListVersions": VIEWER,
        _WORKFLOWS + "StoreWorkflow": OPERATOR,
        _RUNS + "GetFlowStatus": VIEWER,
        _RUNS + "QueryExecutions": VIEWER,
        _RUNS + "StreamEvents": VIEWER,
        _RUNS + "ListAnnotations": VIEWER,
        _RUNS + "ExecuteFlow": OPERATOR,
        _RUNS + "StartRun": OPERATOR,
        _RUNS + "Cancel": OPERATOR,
        _RUNS + "Pause": OPERATOR,
        _RUNS + "Unpause": OPERATOR,
        _RUNS + "Signal": OPERATOR,
        _RUNS + "Resume": OPERATOR,
        _RUNS + "Retry": OPERATOR,
        _RUNS + "AddAnnotation": OPERATOR,
    }
)
"""Full gRPC method name (``/package.Service/Method``, as ``HandlerCallDetails.method``
gives it) -> the least role that may call it."""


def required_role(method: str) -> str:
    """The role ``method`` needs (``admin`` for a method the table does not name)."""
    return METHOD_ROLES.get(method, ADMIN)


def is_mutation(method: str) -> bool:
    """Whether a call of ``method`` changes something (the audit log records those)."""
    return required_role(method) != VIEWER


__all__ = ["ADMIN", "METHOD_ROLES", "OPERATOR", "VIEWER", "is_mutation", "required_role"]
