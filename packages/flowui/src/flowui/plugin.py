"""flowbuilder-ui's registration with core (entry point group ``flowbuilder.plugins``).

Hook implementations are added here as the server's pieces land (issue 13); importing this
module must stay cheap: the server stack loads only when ``flowbuilder serve`` runs.

* ``flowbuilder_addhooks``: declares the server's own hooks (:mod:`flowui.hookspecs`);
* ``flowbuilder_authenticators``: the built-in API tokens (:mod:`flowui.tokens`), registered
  through the hook like any third party's authenticator;
* ``flowbuilder_cli_commands``: ``flowbuilder token new``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder import hookimpl

if TYPE_CHECKING:
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
def flowbuilder_cli_commands(cli: Any) -> None:
    from flowui.token_command import token

    cli.add_command(token, "token")
