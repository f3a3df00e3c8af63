"""flowrunner's plugin module, registered under the ``flowbuilder.plugins`` entry point.

It contributes the ``local`` runner, the built-in task types, and (when configured) the
OpenTelemetry event sink. Imports stay inside the hooks so loading the plugin is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder import hookimpl

if TYPE_CHECKING:
    from flowbuilder.config import Settings


@hookimpl
def flowbuilder_runners() -> list[Any]:
    from flowrunner.runner import LocalRunner

    return [LocalRunner]


@hookimpl
def flowbuilder_task_types() -> list[Any]:
    from flowrunner.tasktypes import BUILTIN_TASK_TYPES

    return list(BUILTIN_TASK_TYPES)


@hookimpl
def flowbuilder_event_sinks(settings: Settings, run_id: str) -> list[Any]:
    section = settings.section("otel")
    if (
        not section
        or str(section.get("enabled", "true")).lower() in ("false", "0", "no", "off")
        or not section.get("exporter")
    ):
        return []  # off unless [otel] exporter is set: free when off
    from flowrunner.otel import OtelSink

    return [OtelSink.from_settings(section, run_id)]
