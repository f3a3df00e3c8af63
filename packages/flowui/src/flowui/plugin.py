"""flowbuilder-ui's registration with core (entry point group ``flowbuilder.plugins``).

Importing this module must stay cheap: ``flowbuilder --help`` and plugin discovery load it.
The hook adds a click command only; FastAPI, uvicorn and the rest load when ``flowbuilder
serve`` runs (:mod:`flowui.serve_command` imports nothing of the web stack at module level).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowbuilder import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def flowbuilder_cli_commands(cli: click.Group) -> None:
    """``flowbuilder serve``: the REST API (and next the gRPC API and web UI) over the configured store."""
    from flowui.serve_command import serve

    cli.add_command(serve)
