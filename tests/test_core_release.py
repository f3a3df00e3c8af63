"""Finding core's release for the lowest cell of the contract matrix: tag first, else releases.toml.

Each test builds a small real git repository (two commits, the first released) and asks
scripts/core_release.py where the release is, the way noxfile.py does; the last two check
this checkout's own record.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
CORE = "flowbuilder-core"


def _load() -> ModuleType:
    name = "_flowbuilder_scripts_core_release"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "core_release.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


core_release = _load()


def git(root: Path, *arguments: str) -> str:
    environment = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                   "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                   "HOME": str(root), "PATH": "/usr/bin:/bin:/usr/local/bin"}  # fmt: skip
    done = subprocess.run(["git", *arguments], cwd=root, env=environment, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose first commit is core 0.1.0 (tagged), with a second commit on top; and that release's sha."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet", "--initial-branch=main")
    (root / "core.txt").write_text("0.1.0\n")
    git(root, "add", "core.txt")
    git(root, "commit", "--quiet", "-m", "core 0.1.0")
    released = git(root, "rev-parse", "HEAD")
    git(root, "tag", "--annotate", "-m", "core 0.1.0", "flowbuilder-core-v0.1.0")
    (root / "core.txt").write_text("0.2.0\n")
    git(root, "commit", "--quiet", "-am", "core 0.2.0")
    return root, released


def record(root: Path, version: str, commit: str) -> None:
    (root / "releases.toml").write_text(f'[flowbuilder-core]\n"{version}" = "{commit}"\n')


def test_the_tag_is_used_when_the_clone_has_it(repository: tuple[Path, str]) -> None:
    root, released = repository
    release = core_release.find_release(root, CORE, Version("0.1"))
    assert release.revision == "flowbuilder-core-v0.1.0"
    assert release.source == f"release tag flowbuilder-core-v0.1.0 (commit {released[:12]})"


def test_without_the_tag_the_recorded_commit_is_used_and_the_log_says_so(repository: tuple[Path, str]) -> None:
    root, released = repository
    git(root, "tag", "--delete", "flowbuilder-core-v0.1.0")
    record(root, "0.1.0", released)
    release = core_release.find_release(root, CORE, Version("0.1"))
    assert release.revision == released
    assert release.source == f"releases.toml (commit {released[:12]}; no tag flowbuilder-core-v0.1.0 in this clone)"


def test_neither_tag_nor_record_is_a_one_line_error_saying_what_to_run(repository: tuple[Path, str]) -> None:
    root, _ = repository
    git(root, "tag", "--delete", "flowbuilder-core-v0.1.0")
    with pytest.raises(core_release.ReleaseNotFound) as caught:
        core_release.find_release(root, CORE, Version("0.1"))
    assert "\n" not in str(caught.value)
    assert "flowbuilder-core 0.1.0 has neither a tag flowbuilder-core-v0.1.0" in str(caught.value)
    assert "git fetch --tags" in str(caught.value)


def test_a_recorded_commit_missing_from_a_shallow_clone_says_to_unshallow(repository: tuple[Path, str]) -> None:
    root, _ = repository
    git(root, "tag", "--delete", "flowbuilder-core-v0.1.0")
    record(root, "0.1.0", "0" * 40)
    with pytest.raises(core_release.ReleaseNotFound, match=r"git fetch --unshallow --tags"):
        core_release.find_release(root, CORE, Version("0.1"))


def test_every_plugins_lowest_core_is_recorded_in_releases_toml() -> None:
    """CI's clones may carry no tags: the lowest cell must find every release it builds from the record."""
    from packaging.requirements import Requirement

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import local_packages
    finally:
        sys.path.remove(str(REPO / "scripts"))
    current = Version(local_packages.version_of(local_packages.packages()[0]))
    recorded = core_release.recorded_releases(REPO, CORE)
    for plugin in local_packages.plugin_packages():
        (requirement,) = [Requirement(r) for r in plugin.dependencies if Requirement(r).name == CORE]
        lowest = max(Version(s.version) for s in requirement.specifier if s.operator == ">=")
        assert lowest == current or lowest in recorded, f"{plugin.name}: record core {lowest}'s commit in releases.toml"


def test_recorded_releases_agree_with_the_tags_this_clone_has() -> None:
    tags = core_release.tagged_releases(REPO, CORE)
    for version, commit in core_release.recorded_releases(REPO, CORE).items():
        if version in tags:
            assert core_release.commit_of(REPO, tags[version]) == commit, f"{tags[version]} and releases.toml disagree"
