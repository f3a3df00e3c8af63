"""Sub-workflows through the CLI, real processes and the real RocksDB store (issue 11, item 4).

A ``type: workflow`` task runs another workflow as a child run of the same store: params go
in, outputs come out, the two runs name each other in ``runs show``, a failed child fails
the parent's task, cancelling the parent cancels the child, a parent resumed after SIGKILL
resumes its child (same run id) instead of starting a new one, and a workflow that includes
itself is refused when it is loaded.

Shell tasks wait for a marker file instead of sleeping, so no test leaves a sleeping orphan.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "subworkflow"
WAITS = "for i in $(seq 1200); do test -f {marker} && break; sleep 0.05; done; test -f {marker}"

GATED_CHILD = f"""\
name: gated-child
tasks:
  - name: first
    type: shell
    config: {{command: "echo one"}}
  - name: gate
    type: shell
    depends_on: [first]
    config: {{command: "{WAITS.format(marker="go")} && echo passed"}}
"""
GATED_PARENT = """\
name: gated-parent
tasks:
  - name: sub
    type: workflow
    config: {path: children/gated-child.yaml}
  - name: after
    type: shell
    depends_on: [sub]
    config: {command: "echo after ${{ tasks.sub.output.outputs.gate }}"}
"""


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("flowbuilder")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}


def _flowbuilder(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_cli(), *map(str, args)], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip


def _shown(store: str, run_id: str, cwd: Path) -> dict[str, Any]:
    shown = _flowbuilder("runs", "show", run_id, "--json", "--store", store, cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def _runs(store: str, cwd: Path) -> list[dict[str, Any]]:
    listed = _flowbuilder("runs", "list", "--json", "--store", store, cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    return list(found["runs"] if isinstance(found, dict) else found)


def _read_until(stream: IO[str], kind: str) -> dict[str, Any]:
    """The first JSON event line of ``stream`` of this kind (other lines are skipped)."""
    while True:
        line = stream.readline()
        assert line, f"the run ended before a {kind} event"
        record = json.loads(line)
        if record.get("kind") == kind:
            return dict(record)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"rocksdb://{tmp_path / 'store'}"


@pytest.fixture(params=["rocksdb", "redis"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "rocksdb":
        return f"rocksdb://{tmp_path / 'store'}"
    return str(request.getfixturevalue("redis_server"))


@pytest.fixture
def gated(scratch_dir: Path, any_store: str) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """``flowbuilder run --json`` of the gated parent, its child started: (process, parent id, child id)."""
    (scratch_dir / "children").mkdir()
    (scratch_dir / "children" / "gated-child.yaml").write_text(GATED_CHILD)
    (scratch_dir / "parent.yaml").write_text(GATED_PARENT)
    runner = subprocess.Popen([*_cli(), "run", "--json", "--store", any_store, "parent.yaml"], cwd=scratch_dir,
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert runner.stdout is not None
        link = _read_until(runner.stdout, "task_annotated")
        assert link["task"] == "sub"
        yield runner, link["run_id"], link["data"]["child_run"]
    finally:
        (scratch_dir / "go").touch()
        if runner.poll() is None:
            runner.kill()
        runner.communicate(timeout=60)


def _wait_for(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_params_go_in_and_outputs_come_out_and_runs_name_each_other(scratch_dir: Path, store: str) -> None:
    """The example: the child gets the parent's params; its task outputs are the task's output."""
    ran = _flowbuilder("run", EXAMPLE / "release.yaml", "--param", "target=arm64", "--json", "--store", store,
                       cwd=scratch_dir)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    events = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    parent_id = events[0]["run_id"]
    [built] = [e for e in events if e["kind"] == "task_succeeded" and e["task"] == "build"]
    child_id = built["data"]["output"]["run_id"]
    assert built["data"]["output"]["outputs"] == {
        "compile": "compiled arm64 with 2 jobs",
        "package": "app-arm64.tar.gz",
    }
    [announced] = [e for e in events if e["kind"] == "task_succeeded" and e["task"] == "announce"]
    assert announced["data"]["output"] == f"released app-arm64.tar.gz from run {child_id}"
    child = _shown(store, child_id, scratch_dir)
    assert child["run"]["status"] == "succeeded" and child["run"]["workflow"] == "build"
    assert child["state"]["params"] == {"target": "arm64", "jobs": 2}
    assert child["state"]["parent"] == {"run_id": parent_id, "task": "build", "attempt": 1, "depth": 1}
    assert _shown(store, parent_id, scratch_dir)["state"]["children"] == {"build": {"run_id": child_id, "attempt": 1}}
    shown_parent = _flowbuilder("runs", "show", parent_id, "--store", store, cwd=scratch_dir).stdout
    assert f"child   {child_id}" in shown_parent
    shown_child = _flowbuilder("runs", "show", child_id, "--store", store, cwd=scratch_dir).stdout
    assert f"parent     {parent_id} (task build" in shown_child


def test_a_failed_child_fails_the_parent_task_with_the_childs_error(scratch_dir: Path, store: str) -> None:
    (scratch_dir / "child.yaml").write_text(
        "name: breaks\ntasks:\n  - name: boom\n    type: shell\n    config: {command: 'echo no >&2; exit 3'}\n"
    )
    (scratch_dir / "parent.yaml").write_text(
        "name: p\ntasks:\n  - {name: sub, type: workflow, config: {path: child.yaml}}\n"
        "  - {name: later, type: shell, depends_on: [sub], config: {command: 'echo never'}}\n"
    )
    ran = _flowbuilder("run", "parent.yaml", "--store", store, cwd=scratch_dir)
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stderr
    [parent] = [r for r in _runs(store, scratch_dir) if r["workflow"] == "p"]
    [child] = [r for r in _runs(store, scratch_dir) if r["workflow"] == "breaks"]
    assert parent["status"] == "failed" and child["status"] == "failed"
    state = _shown(store, parent["run_id"], scratch_dir)["state"]
    error = state["tasks"]["sub"]["error"]
    assert f"child run {child['run_id']} failed" in error and "boom: command exited with 3" in error
    assert state["tasks"]["later"]["status"] == "skipped"


def test_cancelling_the_parent_cancels_the_child(
    gated: tuple[subprocess.Popen[str], str, str], scratch_dir: Path, any_store: str
) -> None:
    runner, parent_id, child_id = gated
    _wait_for(lambda: _shown(any_store, child_id, scratch_dir)["state"]["tasks"].get("gate", {}).get("status")
              == "running", "the child's gated task to start")  # fmt: skip
    asked = _flowbuilder("cancel", parent_id, "--wait", "--store", any_store, cwd=scratch_dir)
    assert asked.returncode == 0, asked.stderr
    runner.communicate(timeout=60)
    assert runner.returncode == 130
    assert _shown(any_store, parent_id, scratch_dir)["run"]["status"] == "cancelled"
    child = _shown(any_store, child_id, scratch_dir)
    assert child["run"]["status"] == "cancelled"
    assert child["state"]["tasks"]["gate"]["status"] == "cancelled"


def test_sigkill_during_the_child_then_resume_finishes_both_with_the_same_child(
    gated: tuple[subprocess.Popen[str], str, str], scratch_dir: Path, any_store: str
) -> None:
    runner, parent_id, child_id = gated
    _wait_for(lambda: _shown(any_store, child_id, scratch_dir)["state"]["tasks"].get("gate", {}).get("status")
              == "running", "the child's gated task to start")  # fmt: skip
    runner.send_signal(signal.SIGKILL)
    runner.communicate(timeout=60)
    assert {r["run_id"]: r["status"] for r in _runs(any_store, scratch_dir)} == {
        parent_id: "interrupted", child_id: "interrupted"}  # fmt: skip
    (scratch_dir / "go").touch()
    resumed = _flowbuilder("resume", parent_id, "--store", any_store, cwd=scratch_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert {r["run_id"]: r["status"] for r in _runs(any_store, scratch_dir)} == {
        parent_id: "succeeded",
        child_id: "succeeded",
    }  # fmt: skip  (no second child run)
    parent = _shown(any_store, parent_id, scratch_dir)["state"]
    assert parent["tasks"]["sub"]["output"]["run_id"] == child_id
    assert parent["tasks"]["after"]["output"] == "after passed"
    assert parent["children"]["sub"] == {"run_id": child_id, "attempt": 2}  # the resumed attempt took it up
    child = _shown(any_store, child_id, scratch_dir)["state"]
    assert child["tasks"]["first"]["attempts"] == 1  # what the child had finished was kept
    assert child["tasks"]["gate"]["attempts"] == 2 and child["tasks"]["gate"]["status"] == "succeeded"


def test_a_workflow_that_includes_itself_is_refused_when_loaded(scratch_dir: Path, store: str) -> None:
    (scratch_dir / "a.yaml").write_text(
        "name: a\ntasks:\n  - name: to_b\n    type: workflow\n    config: {path: b.yaml}\n"
    )
    (scratch_dir / "b.yaml").write_text(
        "name: b\ntasks:\n  - name: to_a\n    type: workflow\n    config: {path: a.yaml}\n"
    )
    for command in (("validate", "a.yaml"), ("run", "a.yaml", "--store", store)):
        refused = _flowbuilder(*command, cwd=scratch_dir)
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr
        assert "a.yaml:5:20: sub-workflow 'b.yaml' is invalid" in refused.stderr
        assert "b.yaml:5:20: workflow includes itself: a.yaml -> b.yaml -> a.yaml" in refused.stderr
    assert not (Path(store.removeprefix("rocksdb://"))).exists() or _runs(store, scratch_dir) == []


def test_a_missing_child_file_and_wrong_params_are_located_in_the_parent(scratch_dir: Path) -> None:
    (scratch_dir / "child.yaml").write_text(
        "name: c\nparams:\n  n: {type: integer}\ntasks:\n  - {name: t, type: shell, config: {command: 'true'}}\n"
    )
    (scratch_dir / "parent.yaml").write_text(
        "name: p\ntasks:\n"
        "  - name: gone\n    type: workflow\n    config: {path: missing.yaml}\n"
        "  - name: typed\n    type: workflow\n    config: {path: child.yaml, params: {n: many, m: 1}}\n"
        "  - name: unfed\n    type: workflow\n    config: {path: child.yaml}\n"
    )
    refused = _flowbuilder("validate", "parent.yaml", cwd=scratch_dir)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    lines = refused.stderr.splitlines()
    assert any(line.startswith("parent.yaml:5:20: sub-workflow 'missing.yaml' does not exist") for line in lines)
    assert any(line.startswith("parent.yaml:8:44: sub-workflow 'child.yaml': param 'n': 'many' is not an integer")
               for line in lines)  # fmt: skip
    assert any(line.startswith("parent.yaml:8:50: sub-workflow 'child.yaml' has no param 'm'") for line in lines)
    assert any(line.startswith("parent.yaml:11:13: sub-workflow 'child.yaml' needs param n") for line in lines)


def test_a_stored_definition_pinned_by_hash_runs_and_nesting_has_a_bound(scratch_dir: Path, store: str) -> None:
    """``definition`` + ``version``; a chain of stored definitions deeper than the limit fails at run time."""
    from flowbuilder.subworkflows import MAX_SUBWORKFLOW_DEPTH

    digest = None
    for level in range(MAX_SUBWORKFLOW_DEPTH + 2):
        task = ("{name: work, type: shell, config: {command: 'echo bottom'}}" if digest is None else
                f"{{name: down, type: workflow, config: {{definition: level{level - 1}, version: {digest}}}}}")  # fmt: skip
        (scratch_dir / f"level{level}.yaml").write_text(f"name: level{level}\ntasks:\n  - {task}\n")
        ran = _flowbuilder("run", f"level{level}.yaml", "--json", "--store", store, cwd=scratch_dir)
        first = json.loads(ran.stdout.splitlines()[0])
        digest = _shown(store, first["run_id"], scratch_dir)["run"]["definition_hash"]
        if level <= MAX_SUBWORKFLOW_DEPTH:
            assert ran.returncode == 0, (level, ran.stderr)
        else:  # the bottom run would be one level too deep
            assert ran.returncode == 1 and "Traceback" not in ran.stderr
            assert f"sub-workflows nest deeper than {MAX_SUBWORKFLOW_DEPTH} levels" in ran.stdout
    (scratch_dir / "wrong.yaml").write_text(
        f"name: wrong\ntasks:\n  - {{name: w, type: workflow, config: {{definition: other, version: {digest}}}}}\n"
    )
    wrong = _flowbuilder("run", "wrong.yaml", "--store", store, cwd=scratch_dir)
    assert wrong.returncode == 1 and "is workflow 'level" in wrong.stderr and "not 'other'" in wrong.stderr


def test_hostile_child_paths_are_one_line_located_errors(scratch_dir: Path) -> None:
    os.mkfifo(scratch_dir / "pipe.yaml")
    (scratch_dir / "parent.yaml").write_text(
        "name: p\ntasks:\n"
        '  - {name: nul, type: workflow, config: {path: "a\\0b"}}\n'
        f'  - {{name: long, type: workflow, config: {{path: "{"x" * 5000}"}}}}\n'
        "  - {name: device, type: workflow, config: {path: /dev/zero}}\n"
        "  - {name: fifo, type: workflow, config: {path: pipe.yaml}}\n"
    )
    refused = _flowbuilder("validate", "parent.yaml", cwd=scratch_dir)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    lines = refused.stderr.splitlines()
    assert len(lines) == 4 and all(len(line) < 400 for line in lines)
    assert lines[0].startswith("parent.yaml:3:") and "embedded null byte" in lines[0]
    assert lines[1].startswith("parent.yaml:4:") and "File name too long" in lines[1]
    assert "'/dev/zero' is not a file" in lines[2] and "'pipe.yaml' is not a file" in lines[3]


def test_the_dsl_page_shows_the_example_that_these_tests_run() -> None:
    """docs/dsl.md's sub-workflow example is examples/subworkflow/release.yaml (without its header comments)."""
    example = "".join(
        line for line in (EXAMPLE / "release.yaml").read_text().splitlines(True) if not line.startswith("#")
    )
    assert f"```yaml\n{example}```" in (REPO / "docs" / "dsl.md").read_text()
