"""flowbuilder-distributed's plugin, registered under ``flowbuilder.plugins`` as ``distributed``.

Each hook imports its machinery only when called, so loading the plugin costs the CLI nothing.
"""

from __future__ import annotations
