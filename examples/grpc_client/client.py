"""A FlowBuilder gRPC client: validate a workflow, run it with ExecuteFlow, print its events.

    python examples/grpc_client/client.py examples/grpc_client/hello.yaml --address 127.0.0.1:50051 -p who=you

Exit status: 0 when the run succeeded, 1 when it failed, was cancelled or a call was
refused, 2 when the workflow is invalid (as ``flowbuilder run``). ``--token`` (or
``FLOWBUILDER_TOKEN``) is sent as ``authorization: Bearer TOKEN`` when the server checks tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import grpc

from flowui.grpc_api.client import messages, open_channel, stubs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workflow", type=Path, help="the workflow file to run")
    parser.add_argument("--address", default="127.0.0.1:50051", help="the server's HOST:PORT")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="a param (repeatable)")
    parser.add_argument("--token", default=os.environ.get("FLOWBUILDER_TOKEN"), help="API token (FLOWBUILDER_TOKEN)")
    args = parser.parse_args(argv)

    text = args.workflow.read_text(encoding="utf-8")
    params = dict(assignment.split("=", 1) for assignment in args.param)  # values stay text: the server converts
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []

    with open_channel(args.address) as channel:
        workflows, runs = stubs.WorkflowServiceStub(channel), stubs.RunServiceStub(channel)
        try:
            checked = workflows.ValidateWorkflow(
                messages.WorkflowSource(yaml=text, filename=str(args.workflow)), metadata=metadata, timeout=30
            )
            if not checked.valid:
                for error in checked.errors:
                    print(f"{error.file}:{error.line}:{error.column}: {error.message}", file=sys.stderr)
                return 2
            status, run_id = "unknown", ""
            request = messages.StartRunRequest(yaml=text, filename=str(args.workflow), params_json=json.dumps(params))
            for event in runs.ExecuteFlow(request, metadata=metadata):
                data, run_id = json.loads(event.data_json), event.run_id
                where = f" {event.task}" if event.task else ""
                print(f"{event.seq:>4} {event.kind}{where} {json.dumps(data)}", flush=True)
                if event.kind == "run_finished":
                    status = data["status"]
            print(f"run {run_id} {status}")
            return 0 if status == "succeeded" else 1
        except grpc.RpcError as error:
            print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
