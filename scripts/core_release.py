"""Where a released version of one of this repository's packages lives in git.

The contract matrix (noxfile.py) builds the oldest core a plugin declares from its release.
A release is the annotated tag ``<package>-v<version>`` (``flowbuilder-core-v0.1.0``); fresh
clones made by CI may carry no tags, so ``releases.toml`` at the repository's root also
records each release's commit. The tag wins when present; either way the caller gets a
sentence for its log saying which was used, and a missing release is a one-line error
that says what to run.
"""

from __future__ import annotations

import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

RECORD = "releases.toml"


class ReleaseNotFound(Exception):
    """Neither a tag nor a usable line of releases.toml names the release; the message says what to do."""


@dataclass(frozen=True)
class Release:
    revision: str  # what ``git archive`` takes: the tag, or the recorded commit
    source: str  # for the log: "release tag ... (commit ...)" or "releases.toml (commit ...; ...)"


def _git(root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *arguments], cwd=root, capture_output=True, text=True, check=False)


def recorded_releases(root: Path, package: str) -> dict[Version, str]:
    """``releases.toml``'s ``[package]`` table: version -> commit."""
    path = root / RECORD
    if not path.is_file():
        return {}
    with path.open("rb") as stream:
        table = tomllib.load(stream).get(package, {})
    return {Version(text): commit for text, commit in table.items()}


def tag_prefix(package: str) -> str:
    return f"{package}-v"


def tagged_releases(root: Path, package: str) -> dict[Version, str]:
    """The release tags of ``package`` in this clone: version -> tag name."""
    prefix = tag_prefix(package)
    found: dict[Version, str] = {}
    for tag in _git(root, "tag", "--list", f"{prefix}*").stdout.split():
        try:
            found[Version(tag.removeprefix(prefix))] = tag
        except InvalidVersion:
            continue
    return found


def commit_of(root: Path, revision: str) -> str | None:
    """The full commit id ``revision`` names in this clone, or None when the clone lacks it."""
    done = _git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    return done.stdout.strip() if done.returncode == 0 else None


def find_release(root: Path, package: str, version: Version) -> Release:
    """The git revision ``package`` ``version`` was released from: its tag, else its recorded commit."""
    release = ".".join(map(str, (*version.release, 0, 0)[: max(3, len(version.release))]))
    tag = tagged_releases(root, package).get(version)
    if tag is not None:
        commit = commit_of(root, tag) or "?"
        return Release(tag, f"release tag {tag} (commit {commit[:12]})")
    commit = recorded_releases(root, package).get(version)
    if commit is None:
        raise ReleaseNotFound(
            f"{package} {release} has neither a tag {tag_prefix(package)}{release} in this clone nor a line in"
            f" {RECORD}: run `git fetch --tags`, or record the release's commit in {RECORD}"
        )
    if commit_of(root, commit) is None:
        raise ReleaseNotFound(
            f"commit {commit[:12]} of {package} {release} ({RECORD}) is not in this clone:"
            " run `git fetch --unshallow --tags` and try again"
        )
    return Release(commit, f"{RECORD} (commit {commit[:12]}; no tag {tag_prefix(package)}{release} in this clone)")
