"""examples/grpc_client/client.py, run as a user would, against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from flowui_grpc_harness import BROKEN, Served, served

__all__ = ["served"]  # the fixture, imported for the tests below

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "grpc_client"


def run_client(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLE / "client.py"), *args, "--address", served.address],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_example_client_validates_runs_and_prints_the_streamed_events(served: Served) -> None:
    done = run_client(served, str(EXAMPLE / "hello.yaml"), "-p", "who=tester")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "run_created" in lines[0] and "run_finished" in lines[-2]
    assert any('task_succeeded greet {"output": "hello tester"' in line for line in lines)
    assert lines[-1].startswith("run ") and lines[-1].endswith(" succeeded")


def test_the_example_client_exits_2_with_located_errors_for_an_invalid_workflow(served: Served, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    done = run_client(served, str(broken))
    assert done.returncode == 2 and done.stdout == ""
    assert f"{broken}:5:18: task 'first' depends on unknown task 'nowhere'" in done.stderr


def test_the_example_client_reports_a_refused_call_on_one_line(served: Served) -> None:
    done = run_client(served, str(EXAMPLE / "hello.yaml"), "-p", "nobody=1")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == "error: INVALID_ARGUMENT: unknown param 'nobody' for workflow 'hello-grpc' (declared: who)"
    )
