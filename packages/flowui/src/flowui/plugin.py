"""flowbuilder-ui's registration with core (entry point group ``flowbuilder.plugins``).

Importing this module must stay cheap: ``flowbuilder --help`` and plugin discovery load it.
The hooks add click commands and declarations only; FastAPI, uvicorn, grpc and the rest load
when ``flowbuilder serve`` runs (:mod:`flowui.serve_command` imports nothing of the web stack
at module level).

* ``flowbuilder_addhooks``: declares the server's own hooks (:mod:`flowui.hookspecs`);
* ``flowbuilder_authenticators``: the built-in API tokens (:mod:`flowui.tokens`), registered
  through the hook like any third party's authenticator;
* ``flowbuilder_cli_commands``: ``flowbuilder serve`` and ``flowbuilder token new``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowbuilder import hookimpl

if TYPE_CHECKING:
    import click

    from flowbuilder.added_hooks import HookSpecRegistry
    from flowbuilder.config import Settings
    from flowbuilder.interfaces.authenticator import Authenticator


@hookimpl
def flowbuilder_addhooks(specs: HookSpecRegistry) -> None:
    from flowui import hookspecs

    specs.add_hookspecs(hookspecs)


@hookimpl
def flowbuilder_authenticators(settings: Settings) -> list[Authenticator]:
    from flowui.tokens import TokenAuthenticator

    return [TokenAuthenticator.from_settings(settings)]


@hookimpl
def flowbuilder_cli_commands(cli: click.Group) -> None:
    """``flowbuilder serve`` (the REST and gRPC APIs and the web UI) and ``flowbuilder token``."""
    from flowui.serve_command import serve
    from flowui.token_command import token

    cli.add_command(serve)
    cli.add_command(token, "token")
