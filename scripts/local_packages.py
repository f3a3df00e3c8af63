"""The Python packages of this checkout, found from the files on disk (not from a list).

Used by ``scripts/install`` and ``noxfile.py`` so that a package added under ``packages/``
later is installed and tested without editing either. Run as a script it prints one pip
argument per line::

    python scripts/local_packages.py            # -e packages/flowbuilder-core ... -e .[all]
    python scripts/local_packages.py --test     # the same with each package's [test] extra,
                                                # plus examples/*/ plugins and contracts/
    python scripts/local_packages.py --lock-inputs  # what scripts/lock resolves into constraints.txt
    python scripts/local_packages.py --names    # our distribution names (never locked)

Order: core first (everything else depends on it), then the other packages by name, then
``contracts/``, then (with ``--test``) the example plugins, then the root meta-distribution.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = "flowbuilder-core"


@dataclass(frozen=True)
class LocalPackage:
    """A directory with a ``pyproject.toml``: its distribution name and what it declares."""

    path: Path
    name: str
    extras: frozenset[str]
    dependencies: tuple[str, ...]
    optional_dependencies: tuple[str, ...] = ()

    @property
    def relative(self) -> str:
        return self.path.relative_to(ROOT).as_posix() or "."

    @property
    def has_tests(self) -> bool:
        return (self.path / "tests").is_dir()


def version_of(package: LocalPackage) -> str:
    """The version ``package`` declares: literal, or hatchling's ``[tool.hatch.version] path``."""
    with (package.path / "pyproject.toml").open("rb") as stream:
        pyproject = tomllib.load(stream)
    if "version" in pyproject.get("project", {}):
        return str(pyproject["project"]["version"])
    version_file = package.path / pyproject["tool"]["hatch"]["version"]["path"]
    match = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", version_file.read_text())
    if match is None:
        raise ValueError(f"{version_file} has no __version__")
    return match.group(1)


def read_package(path: Path) -> LocalPackage:
    with (path / "pyproject.toml").open("rb") as stream:
        project = tomllib.load(stream).get("project", {})
    return LocalPackage(
        path=path,
        name=project.get("name", path.name),
        extras=frozenset(project.get("optional-dependencies", {})),
        dependencies=tuple(project.get("dependencies", ())),
        optional_dependencies=tuple(r for extra in project.get("optional-dependencies", {}).values() for r in extra),
    )


def packages() -> list[LocalPackage]:
    """Every ``packages/*/pyproject.toml``: core first, then each package after the local ones it needs.

    pip resolves an editable requirement's dependencies as it meets them, so a local package
    named on the command line only after one that needs it is looked up on the index (and
    not found). Among packages free to go, the order is by name.
    """
    found = sorted((read_package(p.parent) for p in sorted(ROOT.glob("packages/*/pyproject.toml"))),
                   key=lambda p: (p.name != CORE, p.name))  # fmt: skip
    names = {package.name.lower() for package in found}
    ordered: list[LocalPackage] = []
    while found:
        placed = {package.name.lower() for package in ordered}
        ready = next((p for p in found if _local_needs(p, names) <= placed), found[0])  # a cycle: keep the name order
        ordered.append(ready)
        found.remove(ready)
    return ordered


def _local_needs(package: LocalPackage, local_names: set[str]) -> set[str]:
    """The local packages ``package`` depends on, through its dependencies or any extra."""
    return {requirement_name(r) for r in (*package.dependencies, *package.optional_dependencies)} & local_names


def plugin_packages() -> list[LocalPackage]:
    """Every package that plugs into core: ``packages/*`` but core, and ``examples/*`` plugins."""
    others = [p for p in packages() if p.name != CORE]
    return others + example_plugins()


def contracts_package() -> LocalPackage | None:
    return read_package(ROOT / "contracts") if (ROOT / "contracts" / "pyproject.toml").is_file() else None


def example_plugins() -> list[LocalPackage]:
    """Installable examples (``examples/*/pyproject.toml``), e.g. ``examples/plugin-example``."""
    return [read_package(p.parent) for p in sorted(ROOT.glob("examples/*/pyproject.toml"))]


def root_extras() -> dict[str, list[str]]:
    with (ROOT / "pyproject.toml").open("rb") as stream:
        return dict(tomllib.load(stream)["project"].get("optional-dependencies", {}))


def requirement_name(requirement: str) -> str:
    """The normalised project name at the start of a PEP 508 requirement."""
    name = requirement
    for stop in "<>=!~;[ (@":
        name = name.split(stop, 1)[0]
    return name.strip().lower().replace("_", "-").replace(".", "-")


def pip_arguments(*, test: bool) -> list[str]:
    """``-e PATH[extras]`` for every local package, in one list for one ``pip install``.

    The root's ``[all]`` extra is requested only when every package it names exists here,
    so a half-built checkout still installs (pip would otherwise search the index).
    """
    arguments: list[str] = []

    def editable(package: LocalPackage) -> None:
        suffix = "[test]" if test and "test" in package.extras else ""
        arguments.extend(["-e", f"{package.relative}{suffix}"])

    for package in packages():
        editable(package)
    contracts = contracts_package()
    if contracts is not None:
        editable(contracts)
    if test:
        for example in example_plugins():
            editable(example)
    local = {p.name.lower() for p in packages()}
    wanted = root_extras().get("all", [])
    all_present = all(requirement_name(r) in local for r in wanted)
    arguments.extend(["-e", ".[all]" if wanted and all_present else "."])
    return arguments


def lock_inputs() -> list[str]:
    """The requirement lines ``scripts/lock`` resolves: every local package with all its extras."""
    lines = []
    for package in [*packages(), *filter(None, [contracts_package()]), *example_plugins()]:
        extras = f"[{','.join(sorted(package.extras))}]" if package.extras else ""
        lines.append(f"-e {package.relative}{extras}")
    lines.append(f"-e .[{','.join(sorted(root_extras()))}]" if root_extras() else "-e .")
    lines.append("-r scripts/requirements-dev.txt")
    return lines


def local_names() -> list[str]:
    """The distribution names of this checkout: never taken from an index, never locked."""
    found = [*packages(), *filter(None, [contracts_package()]), *example_plugins(), read_package(ROOT)]
    return [package.name for package in found]


def main(argv: list[str]) -> int:
    if "--lock-inputs" in argv:
        lines = lock_inputs()
    elif "--names" in argv:
        lines = local_names()
    else:
        lines = pip_arguments(test="--test" in argv)
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
