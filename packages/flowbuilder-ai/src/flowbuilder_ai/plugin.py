"""flowbuilder-ai's hook implementations (entry point ``flowbuilder.plugins: ai``).

Module level imports nothing heavy: commands, passes and sinks import their modules when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder import hookimpl

if TYPE_CHECKING:
    import click

    from flowbuilder.config import Settings
    from flowbuilder.interfaces import Store
    from flowbuilder.plan import ExecutionPlan


# --- ai2: advisor, duration estimates, ETA/SLA (issue 14, items 5-7) --------------------------


@hookimpl
def flowbuilder_cli_commands(cli: click.Group) -> None:
    from flowbuilder_ai.advise_command import advise

    cli.add_command(advise)


@hookimpl
def flowbuilder_compile_passes() -> list[Any]:
    """Measured durations for the critical path, read from the configured store's history
    (only if a store exists there: compiling never creates one)."""
    from flowbuilder_ai.estimates import HistoryDurations

    return [HistoryDurations(_existing_store, close=True)]


def _existing_store() -> Any:
    from flowbuilder.cli.context import plugin_host
    from flowbuilder.errors import NoStoreError

    try:
        return plugin_host().open_store(create=False)
    except NoStoreError:
        return None


@hookimpl
def flowbuilder_event_sinks(
    settings: Settings, run_id: str, store: Store | None, plan: ExecutionPlan | None
) -> list[Any]:
    """The ETA/SLA sink: on for a workflow with ``sla:``, or for every run with ``[ai] eta = true``
    in flowbuilder.toml; otherwise nothing (no sink, no history read)."""
    if store is None or plan is None:
        return []
    if plan.workflow.sla is None and str(settings.section("ai").get("eta", "")).lower() not in ("true", "1"):
        return []
    from flowbuilder_ai.eta import EtaSink, run_durations

    return [EtaSink(store, run_id, plan, run_durations(store, plan))]


# --- end ai2 -----------------------------------------------------------------------------------
