"""flowbuilder-ai's plugin, registered under ``flowbuilder.plugins`` as ``ai``.

Importing this module imports neither Polars nor onnxruntime (``flowbuilder --help`` and
runs with scoring off stay as fast as without the package); each hook imports its
machinery when it is used.

* ``flowbuilder_addhooks``: declares ``flowbuilder_anomaly_alerts`` (:mod:`flowbuilder_ai.hookspecs`);
* ``flowbuilder_event_sinks``: :class:`~flowbuilder_ai.sink.AnomalySink` when ``[ai] scoring = true``
  (or ``FLOWBUILDER_AI__SCORING=true``) and the run has a store;
* ``flowbuilder_cli_commands``: ``flowbuilder ai train`` and ``flowbuilder ai score``.

The ai2 block below (advisor, duration estimates, ETA/SLA) registers its own implementations
of the same hooks under other function names (pluggy's ``specname``):

* ``flowbuilder_cli_commands``: ``flowbuilder advise``;
* ``flowbuilder_compile_passes``: measured medians for the critical path;
* ``flowbuilder_event_sinks``: the ETA/SLA sink for workflows with ``sla:`` (or ``[ai] eta = true``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder import hookimpl
from flowbuilder_ai.settings import enabled, model_path, scoring_enabled  # tiny: read per run, imported once

if TYPE_CHECKING:
    import click

    from flowbuilder.added_hooks import HookSpecRegistry
    from flowbuilder.config import Settings
    from flowbuilder.interfaces import Store
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost


@hookimpl
def flowbuilder_addhooks(specs: HookSpecRegistry) -> None:
    from flowbuilder_ai import hookspecs

    specs.add_hookspecs(hookspecs)


@hookimpl
def flowbuilder_event_sinks(settings: Settings, run_id: str, store: Store | None, host: PluginHost) -> list[Any]:
    """The anomaly scorer, when ``[ai] scoring = true``; nothing (and no import) otherwise."""
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


# --- ai2: advisor, duration estimates, ETA/SLA (issue 14, items 5-7) --------------------------


@hookimpl(specname="flowbuilder_cli_commands")
def advise_command(cli: click.Group) -> None:
    """``flowbuilder advise WORKFLOW``."""
    from flowbuilder_ai.advise_command import advise

    cli.add_command(advise)


@hookimpl(specname="flowbuilder_compile_passes")
def duration_estimates(settings: Settings) -> list[Any]:
    """Measured durations for the critical path, read from the configured store's history
    (only if a store exists there: compiling never creates one). On with ``[ai] estimates =
    true`` (or ``FLOWBUILDER_AI__ESTIMATES=true``): reading history opens the store once per
    process, a cost every ``flowbuilder run`` would otherwise pay; off, nothing is imported."""
    if not enabled(settings.section("ai"), "estimates"):
        return []
    from flowbuilder_ai.estimates import HistoryDurations

    def existing_store() -> Any:
        from flowbuilder.errors import NoStoreError
        from flowbuilder.plugins import build_plugin_host

        try:
            return build_plugin_host(settings).open_store(create=False)
        except NoStoreError:
            return None

    return [HistoryDurations(existing_store, close=True)]


@hookimpl(specname="flowbuilder_event_sinks")
def eta_sinks(settings: Settings, run_id: str, store: Store | None, plan: ExecutionPlan | None) -> list[Any]:
    """The ETA/SLA sink: on for a workflow with ``sla:``, or for every run with ``[ai] eta = true``
    in flowbuilder.toml; otherwise nothing (no sink, no history read)."""
    if store is None or plan is None:
        return []
    if plan.workflow.sla is None and not enabled(settings.section("ai"), "eta"):
        return []
    from flowbuilder_ai.eta import EtaSink, run_model

    return [EtaSink(store, run_id, plan, run_model(store, plan))]


# --- end ai2 -----------------------------------------------------------------------------------
