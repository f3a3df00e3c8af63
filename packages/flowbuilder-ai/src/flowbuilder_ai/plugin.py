"""flowbuilder-ai's plugin, registered under ``flowbuilder.plugins`` as ``ai``.

Importing this module imports neither Polars nor onnxruntime (``flowbuilder --help`` and
runs with scoring off stay as fast as without the package); each hook imports its
machinery when it is used.

* ``flowbuilder_addhooks``: declares ``flowbuilder_anomaly_alerts`` (:mod:`flowbuilder_ai.hookspecs`);
* ``flowbuilder_event_sinks``: :class:`~flowbuilder_ai.sink.AnomalySink` when ``[ai] scoring = true``
  (or ``FLOWBUILDER_AI__SCORING=true``) and the run has a store;
* ``flowbuilder_cli_commands``: ``flowbuilder ai train`` and ``flowbuilder ai score``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder import hookimpl

if TYPE_CHECKING:
    import click

    from flowbuilder.added_hooks import HookSpecRegistry
    from flowbuilder.config import Settings
    from flowbuilder.interfaces import Store
    from flowbuilder.plugins import PluginHost


@hookimpl
def flowbuilder_addhooks(specs: HookSpecRegistry) -> None:
    from flowbuilder_ai import hookspecs

    specs.add_hookspecs(hookspecs)


@hookimpl
def flowbuilder_event_sinks(settings: Settings, run_id: str, store: Store | None, host: PluginHost) -> list[Any]:
    """The anomaly scorer, when ``[ai] scoring = true``; nothing (and no import) otherwise."""
    from flowbuilder_ai.settings import model_path, scoring_enabled

    section = settings.section("ai")
    if store is None or not scoring_enabled(section):
        return []
    from flowbuilder_ai.sink import AnomalySink

    return [AnomalySink(store, run_id, host, model_path(section))]


@hookimpl
def flowbuilder_cli_commands(cli: click.Group) -> None:
    """``flowbuilder ai train`` and ``flowbuilder ai score RUN_ID``."""
    from flowbuilder_ai.cli import ai

    cli.add_command(ai)
