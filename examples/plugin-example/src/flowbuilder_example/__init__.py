"""flowbuilder-example-plugin: adds the ``checksum`` task type to FlowBuilder.

The public surface is the task type and its config model; FlowBuilder itself finds the
plugin through the ``flowbuilder.plugins`` entry point (``flowbuilder_example.plugin``).
Importing the plugin module imports this package first, so the task type (and pydantic
with it) is loaded on first use only: ``flowbuilder --help`` never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder_example._version import __version__

if TYPE_CHECKING:
    from flowbuilder_example.checksum import Checksum, ChecksumConfig

__all__ = ["Checksum", "ChecksumConfig", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Checksum", "ChecksumConfig"):
        from flowbuilder_example import checksum

        return getattr(checksum, name)
    raise AttributeError(f"module 'flowbuilder_example' has no attribute {name!r}")
