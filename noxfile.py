"""Developer sessions for the FlowBuilder monorepo (https://nox.thea.codes).

``nox -l`` lists every session; run one with ``nox -s NAME`` or a slice with ``nox -t TAG``::

    nox -s lint
    nox -s typecheck
    nox -s "tests(package='flowrunner')"
    nox -s "contracts(package='flowrunner', core='lowest')"
    nox -t contracts                      # the whole package x core-version matrix

    nox -s deps-lowest deps-latest        # the suite at both ends of the declared ranges

Packages are discovered from ``packages/*/pyproject.toml`` and ``examples/*/pyproject.toml``
(scripts/local_packages.py), so a package added later joins every session by itself.
Local packages are always installed by path, never looked up by name on an index.
Third-party packages are installed at the versions of ``constraints.txt`` (the lock, see
scripts/lock), except in deps-lowest and deps-latest, whose point is to leave it.
Virtualenvs are made by uv when it is installed (much faster installs), else by virtualenv.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))

import core_release  # noqa: E402
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
LOCK = ["-c", str(ROOT / "constraints.txt")]
CONTRACTS_IMPORT = "flowbuilder_contracts"
LINT_PATHS = ["packages", "contracts", "tests", "bench", "noxfile.py", "scripts"]
PYTEST = ["python", "-m", "pytest", "--import-mode=importlib", "-p", "no:cacheprovider"]
TEST_REQUIREMENTS = ["-r", str(ROOT / "scripts" / "requirements-test.txt")]
SUITE_DIRS = ["packages/*/tests", "contracts/tests", "examples/*/tests", "tests"]

nox.options.sessions = ["lint", "typecheck", "tests", "contracts"]
nox.options.error_on_missing_interpreters = True
nox.options.default_venv_backend = "uv|virtualenv"


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
    arguments += [*_local_requirements(chosen), "-e", _with_test_extra(chosen), *TEST_REQUIREMENTS, *LOCK]
    session.install(*arguments)
    if not chosen.has_tests:
        session.error(f"{chosen.relative} has no tests/ directory")
    session.chdir(chosen.path)
    session.run(*PYTEST, "tests", *session.posargs)


@nox.session(python=PYTHON, tags=["lint"])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over packages/, contracts/, tests/, bench/ (ruff.toml)."""
    session.install("ruff", *LOCK)
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


def _core_release(session: nox.Session, version: Version) -> tuple[str, str]:
    """The git revision core ``version`` was released from, and where it came from (for the log)."""
    try:
        release = core_release.find_release(ROOT, CORE, version)
    except core_release.ReleaseNotFound as error:
        session.error(str(error))
    return release.revision, release.source


def _export_from_release(session: nox.Session, revision: str, directory: str, into: Path) -> Path | None:
    """Extract ``directory`` as it was at ``revision`` into ``into``; None if it did not exist there."""
    archived = subprocess.run(
        ["git", "archive", "--format=tar", revision, directory], cwd=ROOT, capture_output=True, check=False
    )
    if archived.returncode != 0:
        return None
    with tarfile.open(fileobj=BytesIO(archived.stdout)) as tar:
        tar.extractall(into, filter="data")
    session.log(f"{directory} from {revision} -> {into / directory}")
    return into / directory


def _contract_test_files(package: LocalPackage) -> list[str]:
    """Test modules of ``package`` that run a contract suite.

    Such a module imports flowbuilder_contracts and subclasses one of its ``...Contract``
    suites; a module that only borrows a helper from it (the redis-server launcher, the
    contract task types) is an ordinary test.
    """
    uses_contracts = re.compile(rf"^\s*(from|import)\s+{CONTRACTS_IMPORT}\b", re.MULTILINE)
    runs_a_suite = re.compile(r"^class \w+\([^)]*\b\w+Contract\b", re.MULTILINE)
    found = []
    for path in sorted((package.path / "tests").rglob("test*.py")):
        text = path.read_text()
        if uses_contracts.search(text) and runs_a_suite.search(text):
            found.append(path)
    return [str(path.relative_to(package.path)) for path in found]


@nox.session(python=PYTHON, tags=["contracts"])
@nox.parametrize(("package", "core"), [(package, core) for package in PLUGINS for core in ("lowest", "newest")])
def contracts(session: nox.Session, package: str, core: str) -> None:
    """One plugin package's tests, contract suites included, against the lowest or newest core it declares.

    newest: the core of this checkout (which must satisfy the declared range), in an
    environment holding only what the plugin declares; runs the plugin's contract test
    modules (those subclassing a flowbuilder_contracts suite). Its whole suite already runs against
    this very core in ``tests`` and in scripts/test, so running it again here would only
    repeat those minutes; ``--full`` after ``--`` runs it anyway.
    lowest: the declared lower bound (``flowbuilder-core>=X``); skipped when X is the checkout's
    version (the newest cell runs that same combination), else core and contracts/ are built from core's release X
    (tag ``flowbuilder-core-vX``, or the commit releases.toml records when the clone has no
    tags; the log says which). The contract suites come from that same release: they are
    the promises that core version made, and a suite added later may test what only a
    newer core can offer. This cell runs the package's whole test suite: everything the
    plugin does must work with every core it admits, and no other session tries an older one.
    Both cells first check that ``flowbuilder plugins`` loads the plugin.
    """
    plugin = PLUGINS[package]
    requirement = _core_requirement(session, plugin)
    current = _checkout_core_version()
    contract_files = _contract_test_files(plugin)
    if not contract_files:
        session.error(
            f"{plugin.relative}: no test module under tests/ runs a suite of {CONTRACTS_IMPORT}; add the contract suites"
        )

    core_dir, contracts_dir = CORE_DIR, ROOT / "contracts"
    if core == "newest":
        if current not in requirement.specifier:
            session.error(f"{plugin.relative} declares {requirement}, which excludes this checkout's core {current}")
        target = current
    else:
        target = _lowest_allowed(session, requirement)
        if target == current:
            # The newest cell runs this very combination; running it twice proves nothing more.
            session.skip(
                f"{plugin.name} admits no core older than this checkout's {current}: the newest cell covers it"
            )
        if target != current:
            revision, source = _core_release(session, target)
            scratch = Path(tempfile.mkdtemp(prefix="flowbuilder-core-", dir=session.create_tmp()))
            core_dir = _export_from_release(session, revision, f"packages/{CORE}", scratch) or session.error(
                f"{source} has no packages/{CORE}"
            )
            contracts_dir = _export_from_release(session, revision, "contracts", scratch) or contracts_dir
    if core_dir == CORE_DIR:
        source = "this checkout"
    session.log(f"{plugin.name} against {CORE} {target} ({core} allowed by {requirement}; from {source})")

    editable = core_dir == CORE_DIR
    arguments = ["-e", str(core_dir)] if editable else [str(core_dir)]
    if (contracts_dir / "pyproject.toml").is_file():
        arguments += ["-e", str(contracts_dir)] if editable else [str(contracts_dir)]
    arguments += [*_local_requirements(plugin), "-e", _with_test_extra(plugin), *TEST_REQUIREMENTS, *LOCK]
    session.install(*arguments)
    session.run(
        "python",
        "-c",
        "import flowbuilder, sys; sys.stdout.write(f'core {flowbuilder.__version__} from {flowbuilder.__file__}\\n')",
    )
    _check_plugin_loads(session, plugin)
    session.chdir(plugin.path)
    posargs = list(session.posargs)
    whole_suite = core == "lowest" or "--full" in posargs
    posargs = [argument for argument in posargs if argument != "--full"]
    selected = ["tests"] if whole_suite else contract_files
    session.log("the whole suite" if whole_suite else f"the contract test modules: {' '.join(contract_files)}")
    session.run(*PYTEST, "-n", "2", *selected, *posargs)


def _check_plugin_loads(session: nox.Session, plugin: LocalPackage) -> None:
    """The installed ``flowbuilder plugins`` finds ``plugin``'s entry point and loads it without failure.

    Plugin modules import their machinery lazily, so a name missing from this core may
    only show when the entry point is loaded; the tests alone may not load it.
    """
    output = str(session.run("flowbuilder", "plugins", "--json", silent=True) or "")
    try:  # the JSON document, without any warning printed around it
        listing = json.loads(output[output.index("{") : output.rindex("}") + 1])
    except ValueError:
        session.error(f"flowbuilder plugins --json printed no JSON: {output.strip()[:300]}")
    failed = [row for row in listing.get("failed", []) if row.get("distribution") == plugin.name]
    if failed:
        session.error(f"{plugin.name} fails to load against this core: {failed[0].get('error')}")
    if not any(row.get("distribution") == plugin.name for row in listing.get("plugins", [])):
        session.error(f"flowbuilder plugins does not list {plugin.name}; is its entry point declared?")
    session.log(f"{plugin.name} loads: flowbuilder plugins lists it with no failure")


# ---------------------------------------------------------------------------------------
# Both ends of every declared dependency range
# ---------------------------------------------------------------------------------------


PRINT_VERSIONS = (
    "import importlib.metadata as m; "
    "print(' '.join(sorted(f'{d.metadata[\"Name\"]}=={d.version}' for d in m.distributions())))"
)


def _suite(session: nox.Session, resolution: str) -> None:
    """Install every local package with its [test] extra at ``resolution``, without the lock, and run the suite."""
    session.chdir(ROOT)
    local = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "local_packages.py"), "--test"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    session.install(f"--resolution={resolution}", *local, *TEST_REQUIREMENTS)
    session.run("python", "-c", PRINT_VERSIONS)
    paths = [str(path.relative_to(ROOT)) for pattern in SUITE_DIRS for path in sorted(ROOT.glob(pattern))]
    session.run(*PYTEST, "-n", "2", "--timeout=300", *paths, *session.posargs)


@nox.session(python=PYTHON, name="deps-lowest", tags=["deps"], venv_backend="uv")
def deps_lowest(session: nox.Session) -> None:
    """The whole suite with every direct dependency at the lowest version its package declares (uv lowest-direct)."""
    _suite(session, "lowest-direct")


@nox.session(python=PYTHON, name="deps-latest", tags=["deps"], venv_backend="uv")
def deps_latest(session: nox.Session) -> None:
    """The whole suite with the newest versions every declared range allows (ignores constraints.txt)."""
    _suite(session, "highest")
