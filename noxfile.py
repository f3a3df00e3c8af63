"""Developer sessions for the FlowBuilder monorepo (https://nox.thea.codes).

``nox -l`` lists every session; run one with ``nox -s NAME`` or a slice with ``nox -t TAG``::

    nox -s lint
    nox -s typecheck
    nox -s "tests(package='flowrunner')"
    nox -s "contracts(package='flowrunner', core='lowest')"
    nox -t contracts                      # the whole package x core-version matrix

Packages are discovered from ``packages/*/pyproject.toml`` and ``examples/*/pyproject.toml``
(scripts/local_packages.py), so a package added later joins every session by itself.
Local packages are always installed by path: PyPI has an unrelated ``flowrunner``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))

from local_packages import (  # noqa: E402
    CORE,
    LocalPackage,
    contracts_package,
    example_plugins,
    packages,
    plugin_packages,
    requirement_name,
)

PYTHON = "3.11"
CORE_DIR = ROOT / "packages" / CORE
CORE_TAG_PREFIX = "flowbuilder-core-v"
CONTRACTS_IMPORT = "flowbuilder_contracts"
LINT_PATHS = ["packages", "contracts", "tests", "bench", "noxfile.py", "scripts"]
PYTEST = ["python", "-m", "pytest", "--import-mode=importlib", "-p", "no:cacheprovider"]
TEST_REQUIREMENTS = ["-r", str(ROOT / "scripts" / "requirements-test.txt")]

nox.options.sessions = ["lint", "typecheck", "tests", "contracts"]
nox.options.error_on_missing_interpreters = True


def _by_dir(candidates: list[LocalPackage]) -> dict[str, LocalPackage]:
    return {package.path.name: package for package in candidates}


ALL_PACKAGES = _by_dir([*packages(), *example_plugins()])
PLUGINS = _by_dir(plugin_packages())
LOCAL_NAMES = {package.name.lower(): package for package in [*packages(), *plugin_packages()]}


def _local_requirements(package: LocalPackage) -> list[str]:
    """``-e PATH`` of each local package ``package`` needs, core excluded, dependencies first.

    Follows the package's dependencies and its [test] extra, then those packages' own
    dependencies, so that nothing of ours is ever looked up on the index by name.
    """
    import tomllib

    def wanted_by(candidate: LocalPackage, with_test_extra: bool) -> list[str]:
        with (candidate.path / "pyproject.toml").open("rb") as stream:
            project = tomllib.load(stream).get("project", {})
        test_extra = project.get("optional-dependencies", {}).get("test", ()) if with_test_extra else ()
        return [*project.get("dependencies", ()), *test_extra]

    ordered: list[LocalPackage] = []

    def visit(candidate: LocalPackage, with_test_extra: bool) -> None:
        for requirement in wanted_by(candidate, with_test_extra):
            local = LOCAL_NAMES.get(requirement_name(requirement))
            if local is None or local.name == CORE or local.path == package.path or local in ordered:
                continue
            visit(local, with_test_extra=False)
            ordered.append(local)

    visit(package, with_test_extra=True)
    return [argument for local in ordered for argument in ("-e", str(local.path))]


def _with_test_extra(package: LocalPackage) -> str:
    return f"{package.path}[test]" if "test" in package.extras else str(package.path)


# ---------------------------------------------------------------------------------------
# Tests and static checks
# ---------------------------------------------------------------------------------------


@nox.session(python=PYTHON, tags=["tests"])
@nox.parametrize("package", list(ALL_PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """One package's own test suite (packages/* and examples/* plugins), against this checkout's core.

    Installs only core, the contract suites, the package with its [test] extra and the
    local packages it declares, so a missing dependency declaration fails here.
    """
    chosen = ALL_PACKAGES[package]
    arguments = ["-e", str(CORE_DIR)]
    contracts = contracts_package()
    if contracts is not None:
        arguments += ["-e", str(contracts.path)]
    arguments += [*_local_requirements(chosen), "-e", _with_test_extra(chosen), *TEST_REQUIREMENTS]
    session.install(*arguments)
    if not chosen.has_tests:
        session.error(f"{chosen.relative} has no tests/ directory")
    session.chdir(chosen.path)
    session.run(*PYTEST, "tests", *session.posargs)


@nox.session(python=PYTHON, tags=["lint"])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over packages/, contracts/, tests/, bench/ (ruff.toml)."""
    session.install("ruff")
    paths = [path for path in LINT_PATHS if (ROOT / path).exists()]
    session.chdir(ROOT)
    session.run("ruff", "check", *paths, *session.posargs)
    session.run("ruff", "format", "--check", *paths)


@nox.session(python=PYTHON, tags=["typecheck"])
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the src/ of every package, contracts/ and the example plugins.

    Files and settings come from [tool.mypy] in pyproject.toml, so this reports exactly what
    ``.venv/bin/mypy`` reports. Installs each of those packages with every extra but [test]
    (the optional libraries their code imports, e.g. flowrunner[otel]) in one pip command
    by path, and scripts/requirements-typecheck.txt (mypy, types-PyYAML).
    """
    checked = [*ALL_PACKAGES.values()]
    contracts = contracts_package()
    if contracts is not None:
        checked.append(contracts)
    arguments: list[str] = []
    for package in checked:
        extras = sorted(package.extras - {"test"})
        arguments += ["-e", f"{package.path}[{','.join(extras)}]" if extras else str(package.path)]
    session.install(*arguments, "-r", str(ROOT / "scripts" / "requirements-typecheck.txt"))
    session.chdir(ROOT)
    session.run("mypy", *session.posargs)


# ---------------------------------------------------------------------------------------
# The contract matrix: every plugin package x {lowest, newest} core version it declares
# ---------------------------------------------------------------------------------------


def _core_requirement(session: nox.Session, package: LocalPackage) -> Requirement:
    for text in package.dependencies:
        requirement = Requirement(text)
        if requirement_name(requirement.name) == CORE:
            return requirement
    session.error(f"{package.relative} does not depend on {CORE}; declare a range like {CORE}>=0.1,<0.2")
    raise AssertionError  # session.error raises


def _checkout_core_version() -> Version:
    text = (CORE_DIR / "src" / "flowbuilder" / "_version.py").read_text()
    match = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", text)
    assert match is not None, "packages/flowbuilder-core/src/flowbuilder/_version.py has no __version__"
    return Version(match.group(1))


def _lowest_allowed(session: nox.Session, requirement: Requirement) -> Version:
    bounds = [Version(spec.version) for spec in requirement.specifier if spec.operator in (">=", "==", "~=", "===")]
    if not bounds:
        session.error(f"{requirement} has no lower bound; declare one like {CORE}>=0.1,<0.2")
    return max(bounds)


def _release_tag(session: nox.Session, version: Version) -> str:
    """The git tag of core release ``version`` (``flowbuilder-core-v0.1.0``), or a one-line error."""
    listed = subprocess.run(
        ["git", "tag", "--list", f"{CORE_TAG_PREFIX}*"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    for tag in listed.stdout.split():
        try:
            if Version(tag.removeprefix(CORE_TAG_PREFIX)) == version:
                return tag
        except InvalidVersion:
            continue
    release = ".".join(map(str, (*version.release, 0, 0)[: max(3, len(version.release))]))
    session.error(
        f"git tag {CORE_TAG_PREFIX}{release} not found in this clone: run `git fetch --tags`"
        f" (or tag the {CORE} {release} release) and try again"
    )
    raise AssertionError


def _export_from_tag(session: nox.Session, tag: str, directory: str, into: Path) -> Path | None:
    """Extract ``directory`` as it was at ``tag`` into ``into``; None if it did not exist there."""
    archived = subprocess.run(
        ["git", "archive", "--format=tar", tag, directory], cwd=ROOT, capture_output=True, check=False
    )
    if archived.returncode != 0:
        return None
    with tarfile.open(fileobj=BytesIO(archived.stdout)) as tar:
        tar.extractall(into, filter="data")
    session.log(f"{directory} from {tag} -> {into / directory}")
    return into / directory


def _contract_test_files(package: LocalPackage) -> list[str]:
    """Test modules of ``package`` that run a contract suite (they import flowbuilder_contracts)."""
    uses_contracts = re.compile(rf"^\s*(from|import)\s+{CONTRACTS_IMPORT}\b", re.MULTILINE)
    found = [
        path for path in sorted((package.path / "tests").rglob("test*.py")) if uses_contracts.search(path.read_text())
    ]
    return [str(path.relative_to(package.path)) for path in found]


@nox.session(python=PYTHON, tags=["contracts"])
@nox.parametrize(("package", "core"), [(package, core) for package in PLUGINS for core in ("lowest", "newest")])
def contracts(session: nox.Session, package: str, core: str) -> None:
    """One plugin package's contract tests against the lowest or newest core it declares.

    newest: the core of this checkout (which must satisfy the declared range).
    lowest: the declared lower bound (``flowbuilder-core>=X``); when X is the checkout's
    version that is the checkout, else core and contracts/ are built from the release tag
    ``flowbuilder-core-vX`` of this repository (``git fetch --tags`` if it is missing).
    Runs the package's test modules that import flowbuilder_contracts.
    """
    plugin = PLUGINS[package]
    requirement = _core_requirement(session, plugin)
    current = _checkout_core_version()
    contract_files = _contract_test_files(plugin)
    if not contract_files:
        session.error(
            f"{plugin.relative}: no test module under tests/ imports {CONTRACTS_IMPORT}; add the contract suites"
        )

    core_dir, contracts_dir = CORE_DIR, ROOT / "contracts"
    if core == "newest":
        if current not in requirement.specifier:
            session.error(f"{plugin.relative} declares {requirement}, which excludes this checkout's core {current}")
        target = current
    else:
        target = _lowest_allowed(session, requirement)
        if target != current:
            tag = _release_tag(session, target)
            scratch = Path(tempfile.mkdtemp(prefix="flowbuilder-core-", dir=session.create_tmp()))
            core_dir = _export_from_tag(session, tag, f"packages/{CORE}", scratch) or session.error(
                f"{tag} has no packages/{CORE}"
            )
            contracts_dir = _export_from_tag(session, tag, "contracts", scratch) or contracts_dir
    source = "this checkout" if core_dir == CORE_DIR else f"release tag {CORE_TAG_PREFIX}{target}"
    session.log(f"{plugin.name} against {CORE} {target} ({core} allowed by {requirement}; from {source})")

    editable = core_dir == CORE_DIR
    arguments = ["-e", str(core_dir)] if editable else [str(core_dir)]
    if (contracts_dir / "pyproject.toml").is_file():
        arguments += ["-e", str(contracts_dir)] if editable else [str(contracts_dir)]
    arguments += [*_local_requirements(plugin), "-e", _with_test_extra(plugin), *TEST_REQUIREMENTS]
    session.install(*arguments)
    session.run(
        "python",
        "-c",
        "import flowbuilder, sys; sys.stdout.write(f'core {flowbuilder.__version__} from {flowbuilder.__file__}\\n')",
    )
    session.chdir(plugin.path)
    session.run(*PYTEST, *contract_files, *session.posargs)
