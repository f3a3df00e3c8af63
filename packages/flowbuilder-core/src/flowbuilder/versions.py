"""Which FlowBuilder distributions are installed, and at which versions."""

from __future__ import annotations

from flowbuilder._version import __version__

KNOWN_DISTRIBUTIONS = (
    "flowbuilder",
    "flowbuilder-core",
    "flowbuilder-runner",
    "flowbuilder-storage",
    "flowbuilder-ai",
    "flowbuilder-distributed",
    "flowbuilder-ui",
    "flowbuilder-contracts",
)


def installed_versions() -> dict[str, str]:
    """Versions of our distributions that are installed, plus any plugin's distribution."""
    from importlib.metadata import PackageNotFoundError, version

    from flowbuilder.plugins import discover_entry_points

    found = {"flowbuilder-core": __version__}
    for name in KNOWN_DISTRIBUTIONS:
        if name in found:
            continue
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    for entry_point in discover_entry_points():
        dist = getattr(entry_point, "dist", None)
        if dist is not None and dist.metadata["Name"] not in found:
            found[dist.metadata["Name"]] = dist.version
    return found
