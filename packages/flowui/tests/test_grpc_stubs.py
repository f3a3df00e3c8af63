"""The committed stubs are what the protos generate, the role table covers every method, and
importing the package loads no gRPC."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
GENERATED = REPO / "packages" / "flowui" / "src" / "flowui" / "grpc_api" / "_generated"


def test_the_committed_stubs_match_the_protos(tmp_path: Path) -> None:
    """Regenerate with scripts/gen_protos into tmp_path: any difference means someone edited one side only."""
    pytest.importorskip("grpc_tools", reason="grpcio-tools is flowbuilder-ui's [test] dependency")
    subprocess.run([sys.executable, str(REPO / "scripts" / "gen_protos.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)  # fmt: skip
    fresh = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    committed = {path.name: path.read_bytes() for path in GENERATED.iterdir() if path.is_file()}
    assert sorted(fresh) == sorted(committed)
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], f"stale stubs {stale}: run `bash scripts/gen_protos` and commit the result"


def test_every_method_of_the_protos_has_a_role_and_every_role_a_method() -> None:
    from flowui.grpc_api._generated import flowbuilder_pb2 as pb
    from flowui.grpc_api.policy import METHOD_ROLES, OPERATOR, VIEWER

    methods = {f"/{service.full_name}/{method.name}" for service in pb.DESCRIPTOR.services_by_name.values()
               for method in service.methods}  # fmt: skip
    assert set(METHOD_ROLES) == methods
    assert set(METHOD_ROLES.values()) <= {VIEWER, OPERATOR}


def test_mutations_need_an_operator_and_unknown_methods_an_admin() -> None:
    from flowui.grpc_api.policy import is_mutation, required_role

    assert required_role("/flowbuilder.v1.RunService/Cancel") == "operator"
    assert required_role("/flowbuilder.v1.RunService/StreamEvents") == "viewer"
    assert required_role("/flowbuilder.v1.RunService/DropEverything") == "admin"
    assert is_mutation("/flowbuilder.v1.WorkflowService/StoreWorkflow")
    assert not is_mutation("/flowbuilder.v1.WorkflowService/ValidateWorkflow")


def test_importing_the_grpc_api_package_and_its_policy_loads_no_grpc() -> None:
    code = "import sys, flowui.grpc_api, flowui.grpc_api.policy; print(sorted(m for m in sys.modules if m.split('.')[0] in {'grpc', 'google'}))"  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
