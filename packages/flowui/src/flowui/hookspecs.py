"""Hook specs flowbuilder-ui declares (through ``flowbuilder_addhooks``): the hooks the server calls.

Core declares only the hooks core calls; these belong to the server, so they are added when
flowbuilder-ui registers (see :mod:`flowbuilder.added_hooks`). A plugin implements them like
any core hook, with ``from flowbuilder import hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowbuilder import hookspec

if TYPE_CHECKING:
    from flowbuilder.config import Settings
    from flowbuilder.interfaces.authenticator import Authenticator


# ---------------------------------------------------------------------------------------
# Serving: called once when `flowbuilder serve` starts.
# ---------------------------------------------------------------------------------------


@hookspec
def flowbuilder_authenticators(settings: Settings) -> list[Authenticator]:
    """Authenticators that recognise the credentials of API calls (REST and gRPC).

    Called once when the server starts (never per request); the server then calls each
    instance's :meth:`~flowbuilder.interfaces.authenticator.Authenticator.authenticate`
    directly, in the order returned (flowbuilder-ui's ``tokens`` first, then the others by
    name), and the first that recognises a credential answers. Every plugin's list is kept;
    two authenticators with one ``name`` are an error naming both plugins.

    :param settings: the resolved settings (a plugin reads its own table, e.g. ``[oidc]``).
    :return: a list of :class:`~flowbuilder.interfaces.authenticator.Authenticator` instances.

    Example (an OIDC plugin)::

        @hookimpl
        def flowbuilder_authenticators(settings):
            section = settings.section("oidc")
            return [OidcAuthenticator(section["issuer"])] if section else []
    """


__all__ = ["flowbuilder_authenticators"]
