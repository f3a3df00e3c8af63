"""The worked example of docs/plugins.md, published the way a third party publishes a plugin.

The example plugin (examples/plugin-example) is built into a wheel, installed into a fresh
virtualenv beside flowbuilder-core and flowbuilder-runner (from this checkout, by path — never by
name; their dependencies from the index, constrained by constraints.txt), and the CLI of that virtualenv — a real subprocess, no
shared state with this test run — must discover it, validate workflows that use its task
type, and run one. Building and installing take a while, so one
installation serves every test of the module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import venv
import zipfile
from pathlib import Path

import pytest
from isolated_process import run_checked, run_isolated

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_VERSION = (REPO / "examples/plugin-example/src/flowbuilder_example/_version.py").read_text().split('"')[-2]
EXAMPLE = REPO / "examples" / "plugin-example"
CORE = REPO / "packages" / "flowbuilder-core"
RUNNER = REPO / "packages" / "flowrunner"
TIMEOUT = 600

WORKFLOWS = EXAMPLE / "workflows"
GOOD = WORKFLOWS / "verify-artifact.yaml"
BAD = WORKFLOWS / "broken-config.yaml"


def _run(*command: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_isolated(*command, cwd=cwd, timeout=TIMEOUT)


def _checked(*command: object) -> subprocess.CompletedProcess[str]:
    return run_checked(*command, cwd=None, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new, empty virtualenv with pip; its bin/. (Its pip also builds the wheel: the
    interpreter running the tests may have none, e.g. in a uv-made nox session.)"""
    root = tmp_path_factory.mktemp("fresh-venv")
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    return root / "bin"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, fresh_venv: Path) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    _checked(fresh_venv / "python", "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", out, EXAMPLE)
    (built,) = out.glob("flowbuilder_example_plugin-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_env(fresh_venv: Path, wheel: Path) -> Path:
    """The fresh virtualenv with only flowbuilder-core, flowbuilder-runner and the example wheel; its bin/."""
    _checked(
        fresh_venv / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", REPO / "constraints.txt", CORE, RUNNER, wheel,
    )  # fmt: skip
    return fresh_venv


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "artifact.bin").write_bytes(b"release bytes\n")
    shutil.copy(GOOD, tmp_path / "good.yaml")
    shutil.copy(BAD, tmp_path / "bad.yaml")
    return tmp_path


def test_the_wheel_declares_the_plugin_entry_point(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [name for name in archive.namelist() if name.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "[flowbuilder.plugins]" in text and "example = flowbuilder_example.plugin" in text


def test_the_fresh_env_holds_only_core_the_runner_and_the_plugin(fresh_env: Path) -> None:
    done = _checked(fresh_env / "python", "-m", "pip", "list", "--format=json")
    installed = {row["name"].lower(): row["version"] for row in json.loads(done.stdout)}
    assert {"flowbuilder-core", "flowbuilder-runner", "flowbuilder-example-plugin"} <= set(installed)
    assert "flowrunner" not in installed  # PyPI's unrelated `flowrunner` is never pulled in
    assert not set(installed) & {"flowbuilder-storage", "flowbuilder-contracts"}


def test_flowbuilder_plugins_lists_it_with_distribution_and_version(fresh_env: Path, workdir: Path) -> None:
    done = _run(fresh_env / "flowbuilder", "plugins", "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    (example,) = [row for row in listing["plugins"] if row["name"] == "example"]
    assert example["distribution"] == "flowbuilder-example-plugin"
    assert example["version"] == EXAMPLE_VERSION
    assert example["hooks"] == ["flowbuilder_task_types"]
    assert listing["failed"] == []


def test_validate_accepts_a_workflow_using_its_task_type(fresh_env: Path, workdir: Path) -> None:
    done = _run(fresh_env / "flowbuilder", "validate", "good.yaml", cwd=workdir)
    assert done.returncode == 0, done.stdout + done.stderr


def test_validate_rejects_a_bad_config_at_file_line_col(fresh_env: Path, workdir: Path) -> None:
    done = _run(fresh_env / "flowbuilder", "validate", "bad.yaml", cwd=workdir)
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert "bad.yaml:9:18: checksum config:" in output  # algorithm: rot13
    assert "bad.yaml:10:30: checksum config:" in output  # the digest value
    assert "hexadecimal" in output


def test_disabling_the_plugin_makes_its_type_unknown(fresh_env: Path, workdir: Path) -> None:
    environment_command = [
        "env",
        "FLOWBUILDER_DISABLE_PLUGINS=example",
        fresh_env / "flowbuilder",
        "validate",
        "good.yaml",
    ]
    done = _run(*environment_command, cwd=workdir)
    assert done.returncode == 2
    assert "good.yaml:10:11: unknown task type 'checksum'" in done.stdout + done.stderr


def test_run_executes_a_workflow_using_its_task_type(fresh_env: Path, workdir: Path) -> None:
    done = _run(fresh_env / "flowbuilder", "run", "good.yaml", "--store", "memory://", cwd=workdir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded" in done.stdout


def test_run_fails_when_the_artifact_changed_under_verification(fresh_env: Path, workdir: Path) -> None:
    (workdir / "pinned.yaml").write_text(
        "name: pinned\ntasks:\n  - name: verify\n    type: checksum\n"
        f"    config: {{paths: [artifact.bin], expect: {{artifact.bin: '{'0' * 64}'}}}}\n"
    )
    done = _run(fresh_env / "flowbuilder", "run", "pinned.yaml", "--store", "memory://", cwd=workdir)
    assert done.returncode == 1
    assert "expected 0000" in done.stdout + done.stderr and "Traceback" not in done.stdout + done.stderr
