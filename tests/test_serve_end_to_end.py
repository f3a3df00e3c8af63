"""``flowbuilder serve`` beside the CLI on one store (issue 13): a run the CLI recorded is in the
API, a run the API started is in ``flowbuilder runs list`` while the server holds the store,
the live stream ends with the run, and SIGTERM stops the server with exit 0."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx

WORKFLOW = """\
name: hello
params:
  who: {type: string, default: world}
tasks:
  - name: greet
    type: shell
    config: {command: "echo hello ${{ params.who }}"}
"""


def test_the_cli_and_the_server_share_one_store(run_cli: Callable[..., Any], scratch_dir: Path, store_url: str) -> None:
    (scratch_dir / "hello.yaml").write_text(WORKFLOW, encoding="utf-8")
    assert run_cli("run", "hello.yaml", "--store", store_url, "-p", "who=cli").returncode == 0

    stderr = scratch_dir / "serve.err"
    with stderr.open("wb") as err:
        server = subprocess.Popen([str(Path(sys.executable).with_name("flowbuilder")), "serve", "--port", "0",
                                   "--store", store_url], cwd=scratch_dir, stderr=err)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"listening on (\S+) ", stderr.read_text())):
            assert server.poll() is None and time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.05)
        client = httpx.Client(base_url=found.group(1), timeout=30)
        [cli_run] = client.get("/api/v1/runs").json()["runs"]
        assert cli_run["workflow"] == "hello" and cli_run["status"] == "succeeded"

        started = client.post("/api/v1/runs", json={"yaml": WORKFLOW, "params": {"who": "api"}}).json()
        with client.stream("GET", started["stream_url"]) as stream:
            kinds = [json.loads(line[6:])["kind"] for line in stream.iter_lines() if line.startswith('data: {"seq"')]
        assert kinds[0] == "run_created" and kinds[-1] == "run_finished"
        assert client.get(f"/api/v1/runs/{started['run_id']}/outputs").json()["outputs"] == {"greet": "hello api"}

        listed = run_cli("runs", "list", "--store", store_url, "--json")
        assert listed.returncode == 0, listed.stderr
        assert started["run_id"] in listed.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=30)
    assert status == 0 and "Traceback" not in stderr.read_text()
