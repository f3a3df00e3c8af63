"""The monorepo's promises about itself: package layout, version ranges, extras, README, CI.

These read files only (no network, no installs), so they run in well under a second and
catch the drift that otherwise shows up only on a fresh machine.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE = "flowbuilder-core"


def _load_local_packages() -> ModuleType:
    name = "_flowbuilder_scripts_local_packages"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / "local_packages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


local_packages = _load_local_packages()
PACKAGES = local_packages.packages()
PLUGINS = local_packages.plugin_packages()


def _project(path: Path) -> dict:
    with (path / "pyproject.toml").open("rb") as stream:
        return tomllib.load(stream)


def _version_of(package_dir: Path) -> Version:
    pyproject = _project(package_dir)
    version_file = pyproject["tool"]["hatch"]["version"]["path"]
    match = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", (package_dir / version_file).read_text())
    assert match, f"{package_dir}/{version_file} has no __version__"
    return Version(match.group(1))


def _core_requirement(package_dir: Path) -> Requirement:
    for text in _project(package_dir)["project"].get("dependencies", []):
        requirement = Requirement(text)
        if requirement.name == CORE:
            return requirement
    raise AssertionError(f"{package_dir.name} does not depend on {CORE}")


def _readme_block_after(marker: str) -> list[str]:
    """The lines of the first fenced code block after ``marker`` in README.md."""
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index(marker)
    block = re.search(r"```[a-z]*\n(.*?)```", text[start:], re.DOTALL)
    assert block, f"no code block after {marker!r} in README.md"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_packages_are_discovered_with_core_first() -> None:
    assert PACKAGES[0].name == CORE
    assert {p.path.name for p in PACKAGES} == {p.parent.name for p in REPO_ROOT.glob("packages/*/pyproject.toml")}


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.path.name)
def test_each_package_has_its_own_readme_changelog_tests_and_typed_marker(package) -> None:
    missing = [name for name in ("README.md", "CHANGELOG.md", "tests") if not (package.path / name).exists()]
    import_dirs = [d for d in (package.path / "src").iterdir() if (d / "__init__.py").is_file()]
    assert import_dirs, f"{package.relative}/src holds no import package"
    missing += [f"src/{d.name}/py.typed" for d in import_dirs if not (d / "py.typed").exists()]
    assert not missing, f"{package.relative} lacks {', '.join(missing)}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.path.name)
def test_each_package_version_has_a_single_source(package) -> None:
    pyproject = _project(package.path)
    assert "version" not in pyproject["project"], "declare `dynamic = ['version']`, not a literal version"
    assert "version" in pyproject["project"].get("dynamic", []), "declare `dynamic = ['version']`"
    _version_of(package.path)


@pytest.mark.parametrize("package", PLUGINS, ids=lambda p: p.path.name)
def test_each_plugin_depends_on_a_range_of_core_that_holds_the_checkout(package) -> None:
    requirement = _core_requirement(package.path)
    operators = {spec.operator for spec in requirement.specifier}
    assert ">=" in operators and "<" in operators, f"{package.name}: declare a range like {CORE}>=0.1,<0.2"
    assert _version_of(REPO_ROOT / "packages" / CORE) in requirement.specifier


@pytest.mark.parametrize("package", PLUGINS, ids=lambda p: p.path.name)
def test_each_plugin_registers_through_the_public_entry_point_group(package) -> None:
    entry_points = _project(package.path)["project"].get("entry-points", {})
    assert entry_points.get("flowbuilder.plugins"), f'{package.name}: add [project.entry-points."flowbuilder.plugins"]'


def test_meta_distribution_has_one_extra_per_plugin_package_and_all_pulls_every_one() -> None:
    extras = _project(REPO_ROOT)["project"]["optional-dependencies"]
    others = {p.name for p in PACKAGES if p.name != CORE}
    named = {Requirement(r).name for name, reqs in extras.items() if name != "all" for r in reqs}
    assert named == others, "each package under packages/ needs exactly one extra in the root pyproject.toml"
    assert {Requirement(r).name for r in extras["all"]} == others


def test_meta_distribution_ranges_admit_the_checkout() -> None:
    project = _project(REPO_ROOT)["project"]
    versions = {p.name: _version_of(p.path) for p in PACKAGES}
    requirements = [Requirement(r) for r in project["dependencies"]]
    requirements += [Requirement(r) for reqs in project["optional-dependencies"].values() for r in reqs]
    for requirement in requirements:
        assert versions[requirement.name] in requirement.specifier, f"{requirement} excludes the checkout"


# Taken on PyPI by unrelated projects: never a distribution name of ours, never a dependency.
PYPI_NAMESAKES = {"flowrunner", "flowui"}


def _all_requirements(path: Path) -> list[Requirement]:
    project = _project(path)["project"]
    texts = [*project.get("dependencies", [])]
    texts += [text for extra in project.get("optional-dependencies", {}).values() for text in extra]
    return [Requirement(text) for text in texts]


def test_no_distribution_of_ours_is_named_or_needs_a_pypi_namesake() -> None:
    local = [*PACKAGES, *PLUGINS, local_packages.contracts_package(), local_packages.read_package(REPO_ROOT)]
    names = {package.name for package in local}
    assert not names & PYPI_NAMESAKES, f"publish these under a flowbuilder- name: {names & PYPI_NAMESAKES}"
    wanted = {r.name for package in local for r in _all_requirements(package.path)}
    assert not wanted & PYPI_NAMESAKES, f"these names on PyPI are someone else's: {wanted & PYPI_NAMESAKES}"


def test_the_runner_is_published_as_flowbuilder_runner_and_imported_as_flowrunner() -> None:
    runner = _project(REPO_ROOT / "packages" / "flowrunner")
    assert runner["project"]["name"] == "flowbuilder-runner"
    assert runner["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/flowrunner"]


def _third_party(path: Path) -> list[Requirement]:
    ours = set(local_packages.local_names())
    return [r for r in _all_requirements(path) if r.name not in ours]


def _every_project_dir() -> list[Path]:
    return [p.path for p in [*PACKAGES, *PLUGINS, local_packages.contracts_package()]]


@pytest.mark.parametrize("path", _every_project_dir(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_third_party_dependency_has_a_lower_and_an_upper_bound(path: Path) -> None:
    """deps-lowest and deps-latest test both ends; an open end would be a promise nobody tested."""
    unbounded = [
        str(r) for r in _third_party(path)
        if not {s.operator for s in r.specifier} & {">=", "~=", "=="}
        or not {s.operator for s in r.specifier} & {"<", "~=", "=="}
    ]  # fmt: skip
    assert not unbounded, f"declare lower and upper bounds, like pyyaml>=6.0.1,<7: {unbounded}"


def _pins() -> dict[str, list[Requirement]]:
    pins: dict[str, list[Requirement]] = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            pins.setdefault(requirement.name.lower().replace("_", "-"), []).append(requirement)
    return pins


def test_the_lock_pins_every_declared_third_party_dependency_inside_its_range() -> None:
    """constraints.txt is refreshed by scripts/lock; a range edited without a refresh fails here."""
    pins = _pins()
    problems = []
    for path in [*_every_project_dir(), REPO_ROOT]:
        for requirement in _third_party(path):
            name = requirement.name.lower().replace("_", "-")
            if name not in pins:
                problems.append(f"{name} is not in constraints.txt")
                continue
            for pin in pins[name]:
                (exact,) = pin.specifier
                if exact.version not in requirement.specifier:
                    problems.append(f"constraints.txt pins {name}=={exact.version}, outside {requirement}")
    assert not problems, "run `bash scripts/lock` and commit constraints.txt: " + "; ".join(problems)


def test_the_lock_leaves_out_our_own_distributions() -> None:
    """Ours are installed by path; a pin would break every version bump (and name PyPI's namesakes)."""
    locked = set(_pins())
    assert not locked & set(local_packages.local_names())
    assert not locked & PYPI_NAMESAKES


def test_the_lock_was_made_from_pypi_alone() -> None:
    text = (REPO_ROOT / "constraints.txt").read_text()
    assert "file:" not in text and "--find-links" not in text and "--extra-index-url" not in text


def test_ci_runs_exactly_the_readme_test_command() -> None:
    quick_start = _readme_block_after("## Quick start")
    assert len(quick_start) == 2, "the quick start is two commands"
    ci_lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    assert "set -euo pipefail" in ci_lines
    assert any(quick_start[1] in line and not line.startswith("#") for line in ci_lines), (
        f".ci/run must run {quick_start[1]!r}"
    )


def test_readme_install_command_is_what_scripts_install_runs() -> None:
    (command,) = _readme_block_after("<!-- install-command")
    pip_part = shlex.split(command.split("pip install", 1)[1])
    assert pip_part == [*local_packages.pip_arguments(test=False), "-c", "constraints.txt"]


def test_scripts_install_uses_the_lock() -> None:
    assert "-c constraints.txt" in (REPO_ROOT / "scripts" / "install").read_text()


def test_readme_says_how_to_refresh_the_lock() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    assert "bash scripts/lock" in text and (REPO_ROOT / "scripts" / "lock").is_file()


def test_readme_links_resolve_to_files_of_the_checkout() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", text)
    local = [link for link in links if "://" not in link]
    assert {"docs/dsl.md", "docs/plugins.md", "docs/architecture.md"} <= set(local)
    missing = [link for link in local if not (REPO_ROOT / link).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


TYPED_PACKAGES = [*PACKAGES, *filter(None, [local_packages.contracts_package()]), *local_packages.example_plugins()]


def _mypy_settings() -> dict:
    return _project(REPO_ROOT)["tool"]["mypy"]


def _mypy_paths(key: str) -> set[Path]:
    """A path list of [tool.mypy] as absolute paths ($MYPY_CONFIG_FILE_DIR is the checkout)."""
    listed = _mypy_settings().get(key, [])
    listed = listed.split(",") if isinstance(listed, str) else listed
    return {Path(item.strip().replace("$MYPY_CONFIG_FILE_DIR", str(REPO_ROOT))).resolve() for item in listed}


def _import_names(package) -> set[str]:
    return {d.name for d in (package.path / "src").iterdir() if (d / "__init__.py").is_file()}


@pytest.mark.parametrize("package", TYPED_PACKAGES, ids=lambda p: p.relative)
def test_mypy_checks_the_src_of_every_package(package) -> None:
    """`.venv/bin/mypy` and `nox -s typecheck` check each package's src/ given as files.

    Every src/ must be listed: editable installs put src/ on sys.path, and mypy does not
    report errors in imported modules it finds there, so an unlisted package goes unchecked.
    """
    entry = f'"$MYPY_CONFIG_FILE_DIR/{package.relative}/src"'
    src = (package.path / "src").resolve()
    assert src in _mypy_paths("files"), f"add {entry} to `files` in [tool.mypy] of pyproject.toml"
    assert src in _mypy_paths("mypy_path"), f"add {entry} to `mypy_path` in [tool.mypy] of pyproject.toml"


def test_mypy_is_strict_and_exempts_only_named_third_party_libraries() -> None:
    settings = _mypy_settings()
    assert settings.get("strict") is True
    assert "ignore_missing_imports" not in settings and "follow_imports" not in settings, "exempt libraries by name"
    ours = {name for package in TYPED_PACKAGES for name in _import_names(package)}
    for override in settings.get("overrides", []):
        modules = [override["module"]] if isinstance(override["module"], str) else override["module"]
        assert not override.get("ignore_errors"), f"{modules}: fix the errors or silence one code with a reason"
        assert override.get("follow_imports", "normal") == "normal", f"{modules}: follow_imports hides errors"
        if override.get("ignore_missing_imports"):
            assert "*" not in modules, "ignore_missing_imports for everything hides missing dependencies"
            mine = [module for module in modules if module.split(".")[0] in ours]
            assert not mine, f"{mine} are ours: they must be found, not ignored"


def _fake_checkout(root: Path, packages: dict[str, list[str]]) -> None:
    """A checkout with ``scripts/local_packages.py`` and packages named by directory."""
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "local_packages.py").write_text((REPO_ROOT / "scripts" / "local_packages.py").read_text())
    root_extras = {"all": [f"{name}>=0.1,<0.2" for name in packages if name != CORE]}
    extras_toml = "\n".join(f"{key} = {json.dumps(value)}" for key, value in root_extras.items())
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "flowbuilder"\n[project.optional-dependencies]\n{extras_toml}\n'
    )
    for name, extras in packages.items():
        directory = root / "packages" / name
        directory.mkdir(parents=True)
        extras_toml = "\n".join(f"{extra} = []" for extra in extras)
        (directory / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\n[project.optional-dependencies]\n{extras_toml}\n'
        )


def _install_arguments(root: Path, *flags: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, str(root / "scripts" / "local_packages.py"), *flags],
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.split()


def test_install_arguments_follow_the_packages_on_disk_core_first(tmp_path: Path) -> None:
    _fake_checkout(tmp_path, {"flowbuilder-core": ["test"], "zeta": [], "alpha": ["test"]})
    assert _install_arguments(tmp_path) == [
        "-e", "packages/flowbuilder-core", "-e", "packages/alpha", "-e", "packages/zeta", "-e", ".[all]",
    ]  # fmt: skip
    assert _install_arguments(tmp_path, "--test") == [
        "-e", "packages/flowbuilder-core[test]", "-e", "packages/alpha[test]", "-e", "packages/zeta", "-e", ".[all]",
    ]  # fmt: skip


def test_install_arguments_name_each_package_after_the_local_packages_it_needs(tmp_path: Path) -> None:
    """pip looks a local dependency up on the index when its editable comes later on the command line."""
    _fake_checkout(tmp_path, {"flowbuilder-core": [], "alpha": [], "beta": [], "zeta": []})
    (tmp_path / "packages" / "alpha" / "pyproject.toml").write_text(
        '[project]\nname = "alpha"\ndependencies = ["zeta>=1"]\n[project.optional-dependencies]\ntest = ["beta"]\n'
    )
    assert _install_arguments(tmp_path)[:8] == [
        "-e", "packages/flowbuilder-core", "-e", "packages/beta", "-e", "packages/zeta", "-e", "packages/alpha",
    ]  # fmt: skip


def test_install_arguments_skip_the_all_extra_while_one_of_its_packages_is_missing(tmp_path: Path) -> None:
    _fake_checkout(tmp_path, {"flowbuilder-core": [], "alpha": []})
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "flowbuilder"\n[project.optional-dependencies]\nall = ["alpha", "not-built-yet"]\n'
    )
    assert _install_arguments(tmp_path)[-2:] == ["-e", "."]


def test_runs_are_requested_only_by_the_run_service() -> None:
    """Orchestration exists once: no package's code builds a RunRequest except core's run service.

    (The Runner contract suite in contracts/ builds requests on purpose: it tests runners directly.)
    """
    builders = sorted(
        str(path.relative_to(REPO_ROOT))
        for path in REPO_ROOT.glob("packages/*/src/**/*.py")
        if "RunRequest(" in path.read_text(encoding="utf-8")
    )
    assert builders == ["packages/flowbuilder-core/src/flowbuilder/run_service.py"]
