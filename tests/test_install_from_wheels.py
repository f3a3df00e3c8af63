"""`pip install flowbuilder[all]`, proven the way a user meets it: from wheels, in a fresh virtualenv.

Every package of this checkout (packages/*, contracts/ and the root meta-distribution) is
built into one wheelhouse. A new virtualenv that cannot see the checkout (no editable
installs, no PYTHONPATH, run from a scratch directory) installs ``flowbuilder[all]`` with
``--find-links`` to that wheelhouse; third-party dependencies come from the index,
constrained by the lock (constraints.txt). Then its own ``flowbuilder`` runs the hello
example and lists every package's plugin. These are the README's "Installing from a
checkout" steps. Building and installing take a while, so one installation serves the module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from isolated_process import run_checked, run_isolated

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 900
PYPI_NAMESAKES = {"flowrunner", "flowui"}

sys.path.insert(0, str(REPO / "scripts"))
import local_packages  # noqa: E402

sys.path.remove(str(REPO / "scripts"))


def _run(*command: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_isolated(*command, cwd=cwd, timeout=TIMEOUT)


def _checked(*command: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_checked(*command, cwd=cwd, timeout=TIMEOUT)


def _published() -> list[local_packages.LocalPackage]:
    """What a release publishes: every package, the contract suites and the meta-distribution."""
    contracts = local_packages.contracts_package()
    return [*local_packages.packages(), *([contracts] if contracts else []), local_packages.read_package(REPO)]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("user")


@pytest.fixture(scope="module")
def user_venv(scratch: Path) -> Path:
    """A new, empty virtualenv with pip; its bin/. (Its pip also builds the wheels: the
    interpreter running the tests may have none, e.g. in a uv-made nox session.)"""
    root = scratch / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    return root / "bin"


@pytest.fixture(scope="module")
def wheelhouse(scratch: Path, user_venv: Path) -> Path:
    out = scratch / "wheelhouse"
    paths = [package.path for package in _published()]
    _checked(
        user_venv / "python", "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", out, *paths, cwd=scratch
    )
    return out


@pytest.fixture(scope="module")
def user_env(scratch: Path, user_venv: Path, wheelhouse: Path) -> Path:
    """The virtualenv with `flowbuilder[all]` installed from the wheelhouse; its bin/."""
    _checked(
        user_venv / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--find-links", wheelhouse, "-c", REPO / "constraints.txt", "flowbuilder[all]",
        cwd=scratch,
    )  # fmt: skip
    return user_venv


def test_the_wheelhouse_holds_one_wheel_per_published_package(wheelhouse: Path) -> None:
    built = {path.name.split("-")[0].replace("_", "-") for path in wheelhouse.glob("*.whl")}
    assert built == {package.name for package in _published()}


def test_installing_the_all_extra_brings_every_package_at_the_checkouts_version(user_env: Path, scratch: Path) -> None:
    done = _checked(user_env / "python", "-m", "pip", "list", "--format=json", cwd=scratch)
    installed = {row["name"].lower(): row["version"] for row in json.loads(done.stdout)}
    expected = {package.name: local_packages.version_of(package) for package in local_packages.packages()}
    expected["flowbuilder"] = local_packages.version_of(local_packages.read_package(REPO))
    assert {name: installed.get(name) for name in expected} == expected
    assert not set(installed) & PYPI_NAMESAKES, "an unrelated PyPI project was installed"


def test_the_installed_packages_come_from_the_wheels_not_the_checkout(user_env: Path, scratch: Path) -> None:
    code = "import flowbuilder, flowrunner, flowbuilder_storage as s; print(flowbuilder.__file__, flowrunner.__file__, s.__file__)"
    done = _checked(user_env / "python", "-c", code, cwd=scratch)
    for location in done.stdout.split():
        assert Path(location).is_relative_to(user_env.parent), location


def test_the_hello_example_runs(user_env: Path, scratch: Path) -> None:
    work = scratch / "hello"
    work.mkdir(exist_ok=True)
    shutil.copy(REPO / "examples" / "hello" / "hello.yaml", work / "hello.yaml")
    done = _run(user_env / "flowbuilder", "run", "hello.yaml", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded" in done.stdout
    assert (work / ".flowbuilder").is_dir(), "the embedded RocksDB store (flowbuilder-storage) recorded the run"


def test_flowbuilder_plugins_lists_every_package(user_env: Path, scratch: Path) -> None:
    done = _run(user_env / "flowbuilder", "plugins", "--json", cwd=scratch)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["failed"] == []
    distributions = {row["distribution"] for row in listing["plugins"]}
    assert {package.name for package in local_packages.packages()} <= distributions


def test_flowbuilder_version_names_the_published_distributions(user_env: Path, scratch: Path) -> None:
    done = _run(user_env / "flowbuilder", "version", "--json", cwd=scratch)
    assert done.returncode == 0, done.stderr
    versions = json.loads(done.stdout)
    assert {"flowbuilder", "flowbuilder-core", "flowbuilder-runner", "flowbuilder-storage"} <= set(versions)
    assert not set(versions) & PYPI_NAMESAKES
