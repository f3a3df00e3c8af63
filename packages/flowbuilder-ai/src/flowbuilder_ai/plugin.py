"""flowbuilder-ai's hook implementations (entry point ``flowbuilder.plugins: ai``).

Module level imports nothing heavy: commands, passes and sinks import their modules when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder import hookimpl

if TYPE_CHECKING:
    import click


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


# --- end ai2 -----------------------------------------------------------------------------------
