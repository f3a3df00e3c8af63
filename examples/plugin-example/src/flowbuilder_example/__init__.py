"""flowbuilder-example-plugin: adds the ``checksum`` task type to FlowBuilder.

The public surface is the task type and its config model; FlowBuilder itself finds the
plugin through the ``flowbuilder.plugins`` entry point (``flowbuilder_example.plugin``).
"""

from flowbuilder_example._version import __version__
from flowbuilder_example.checksum import Checksum, ChecksumConfig

__all__ = ["Checksum", "ChecksumConfig", "__version__"]
