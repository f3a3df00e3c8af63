"""The plugin module the entry point names: it only hands FlowBuilder its task type.

Hooks run once per process (never per task), so this module stays tiny and imports the
task type lazily: ``flowbuilder --help`` never pays for it.
"""

from __future__ import annotations

from typing import Any

from flowbuilder import hookimpl


@hookimpl
def flowbuilder_task_types() -> list[Any]:
    from flowbuilder_example.checksum import Checksum

    return [Checksum]
