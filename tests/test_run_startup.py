"""``flowbuilder run`` of a workflow it ran before starts without parsing YAML or building core's
models (issue 10), and still runs exactly what the file says now.

The CLI is started the way a user starts it, through a small wrapper that reports, when the
process ends, which of the modules in question it imported and whether core's models were
built — the thing these tests pin (no time is measured).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HELLO = Path(__file__).resolve().parent.parent / "examples" / "hello" / "hello.yaml"

PLUGIN_PROVIDED = (
    "flowbuilder_example.checksum",  # the example plugin's task type (installed by --dev)
    "flowbuilder_storage.redis_store",  # a store the run does not use
    "flowbuilder_storage.rocksdb_store",
    "flowrunner.tasktypes.http",  # built-in task types hello does not use
    "flowrunner.tasktypes.script",
    "flowrunner.tasktypes.shell",  # the two it uses
    "flowrunner.tasktypes.python",
)
"""Modules that plugins' named hooks provide; the wrapper reports which of them a run imported."""

NOT_FOR_HELLO = (
    "jinja2",  # hello's expressions are plain references and `params.rounds > 0`: read without it
    "flowbuilder.expression_bounds",
    "flowbuilder.subworkflows",  # no `workflow` task
    "flowrunner.tasktypes.workflow",
    "flowrunner.tasktypes._waiting",  # no approval or wait task
    "importlib.metadata",  # pydantic's plugin search, skipped when no pydantic plugin is installed
    "difflib",  # "did you mean" hints, for findings only
    "flowbuilder.cli.watch_commands",  # formats annotations, and hello's run has none
    "flowbuilder.annotations",  # the stores import these in the calls that need them: a run
    "flowbuilder.audit",  # neither annotates (reading none imports nothing), audits,
    "flowbuilder.control",  # requests control nor fences
    "flowbuilder.fencing",
    "flowbuilder.caching",  # hello has no `cache:` task
)
"""Modules a run of hello has no use for; the wrapper reports which of them it imported."""

WRAPPER = """
import atexit, json, sys
PLUGIN_PROVIDED = PROVIDED_HERE
NOT_FOR_HELLO = NOT_FOR_HELLO_HERE

def report():
    model = sys.modules.get("flowbuilder.model")
    print("STARTUP " + json.dumps({
        "yaml": "yaml" in sys.modules,
        "yamlsource": "flowbuilder.yamlsource" in sys.modules,
        "workflow_model_built": bool(model and model.Workflow.__pydantic_complete__),
        "imported": sorted(name for name in PLUGIN_PROVIDED if name in sys.modules),
        "needless": sorted(name for name in NOT_FOR_HELLO if name in sys.modules),
    }), file=sys.stderr)

atexit.register(report)
from flowbuilder.cli.main import main
main(sys.argv[1:])
""".replace("PROVIDED_HERE", repr(PLUGIN_PROVIDED)).replace("NOT_FOR_HELLO_HERE", repr(NOT_FOR_HELLO))


@pytest.fixture
def hello(scratch_dir: Path) -> Path:
    return Path(shutil.copy(HELLO, scratch_dir / "hello.yaml"))


def run_hello(path: Path, cache: Path, **env: str) -> tuple[dict[str, Any], dict[str, bool]]:
    """(task outputs, what the process imported and built) of ``flowbuilder run --json`` of ``path``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    environment.update(FLOWBUILDER_CACHE_DIR=str(cache), **env)
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, "run", "--json", "--store", "memory://", str(path)],
        cwd=path.parent, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    outputs = {event["task"]: event["data"]["output"] for event in events if event["kind"] == "task_succeeded"}
    report = next(line for line in done.stderr.splitlines() if line.startswith("STARTUP "))
    return outputs, json.loads(report.removeprefix("STARTUP "))


def test_a_second_run_of_hello_parses_no_yaml_and_builds_no_core_model(hello: Path, tmp_path: Path) -> None:
    first, first_startup = run_hello(hello, tmp_path / "cache")
    second, second_startup = run_hello(hello, tmp_path / "cache")
    for startup in (first_startup, second_startup):
        startup.pop("imported")
        startup.pop("needless")
    assert first_startup == {"yaml": True, "yamlsource": True, "workflow_model_built": True}  # first sight
    assert second_startup == {"yaml": False, "yamlsource": False, "workflow_model_built": False}
    assert (
        second
        == first
        == {"greet": "hello, world", "title": "Hello, World", "report": "1: Hello, World\n2: Hello, World"}
    )


def test_hello_runs_without_jinja_and_without_the_modules_of_tasks_it_does_not_have(
    hello: Path, tmp_path: Path
) -> None:
    """Issue 10: its expressions are read without Jinja2 (at compile and at run time), and the
    sub-workflow and waiting-task modules are left alone by a run that has no such task (the
    first run calls every plugin's hooks, which import every task type, those included)."""
    first_outputs, first = run_hello(hello, tmp_path / "cache")
    second_outputs, second = run_hello(hello, tmp_path / "cache")
    assert not {"jinja2", "flowbuilder.expression_bounds"} & set(first["needless"])
    assert second["needless"] == []
    assert first_outputs == second_outputs
    assert second_outputs["report"] == "1: Hello, World\n2: Hello, World"  # `when: params.rounds > 0` held
    hello.write_text(hello.read_text().replace("default: 2", "default: 0"))
    outputs, _ = run_hello(hello, tmp_path / "cache")
    assert "report" not in outputs  # and now it does not


def test_a_run_after_the_file_changed_runs_what_it_says_now(hello: Path, tmp_path: Path) -> None:
    run_hello(hello, tmp_path / "cache")
    hello.write_text(hello.read_text().replace("default: world", "default: Ada"))
    outputs, startup = run_hello(hello, tmp_path / "cache")
    assert outputs["greet"] == "hello, Ada"
    assert startup["yaml"]  # validated afresh


def test_no_cache_validates_every_time(hello: Path, tmp_path: Path) -> None:
    run_hello(hello, tmp_path / "cache", FLOWBUILDER_NO_CACHE="1")
    outputs, startup = run_hello(hello, tmp_path / "cache", FLOWBUILDER_NO_CACHE="1")
    assert startup["yaml"] and startup["workflow_model_built"]
    assert outputs["greet"] == "hello, world"
    assert not (tmp_path / "cache").exists()


def test_a_second_run_imports_only_the_task_types_and_store_it_uses(hello: Path, tmp_path: Path) -> None:
    """The plugin manifest (issue 10): the first run calls every plugin's named hooks, which
    import what they provide; the next knows the names and imports only what the run uses."""
    _, first = run_hello(hello, tmp_path / "cache")
    outputs, second = run_hello(hello, tmp_path / "cache")
    assert outputs["title"] == "Hello, World"
    assert "flowrunner.tasktypes.http" in first["imported"]  # the hooks were called
    assert second["imported"] == ["flowrunner.tasktypes.python", "flowrunner.tasktypes.shell"]
    _, no_cache = run_hello(hello, tmp_path / "cache", FLOWBUILDER_NO_CACHE="1")
    assert set(first["imported"]) <= set(no_cache["imported"])


def test_a_plugin_task_type_remembered_by_the_manifest_runs_when_a_workflow_uses_it(
    hello: Path, tmp_path: Path
) -> None:
    pytest.importorskip("flowbuilder_example")
    run_hello(hello, tmp_path / "cache")  # fills the manifest without importing checksum
    run_hello(hello, tmp_path / "cache")
    data = hello.parent / "data.txt"
    data.write_text("abc")
    sums = hello.parent / "sums.yaml"
    sums.write_text(f"name: sums\ntasks:\n  - name: sums\n    type: checksum\n    config: {{paths: [{data}]}}\n")
    outputs, startup = run_hello(sums, tmp_path / "cache")
    assert outputs["sums"]["files"] == {str(data): "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
    assert startup["imported"] == ["flowbuilder_example.checksum"]
