"""Collecting the authenticators the server asks: the one typed door onto ``flowbuilder_authenticators``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder.errors import PluginError
from flowbuilder.interfaces.authenticator import Authenticator

if TYPE_CHECKING:
    from flowbuilder.plugins import PluginHost

HOOK = "flowbuilder_authenticators"


def authenticators_of(host: PluginHost) -> list[Authenticator]:
    """Every plugin's authenticators, ``tokens`` first and the rest by name (called once at start-up).

    One-line :class:`~flowbuilder.errors.PluginError` when a plugin returns something that is
    not an Authenticator or a name is taken twice (naming both plugins), or when flowbuilder-ui
    itself is not loaded (the hook then has no spec).
    """
    caller = getattr(host.manager.hook, HOOK, None)
    if caller is None or not caller.has_spec():
        raise PluginError(f"{HOOK} is not declared: the `ui` plugin (flowbuilder-ui) is disabled or failed to load")
    owners: dict[str, str] = {}
    found: list[Authenticator] = []
    for impl in reversed(caller.get_hookimpls()):
        arguments: dict[str, Any] = {"settings": host.settings}
        result = impl.function(*(arguments[name] for name in impl.argnames))
        for authenticator in result or ():
            if not isinstance(authenticator, Authenticator):
                raise PluginError(f"{host.describe(impl.plugin_name)} returned {authenticator!r} from {HOOK},"
                                  " which is not a flowbuilder.interfaces.Authenticator")  # fmt: skip
            name = str(authenticator.name)
            if name in owners:
                raise PluginError(f"two authenticators are named {name!r}: from {host.describe(owners[name])}"
                                  f" and {host.describe(impl.plugin_name)}")  # fmt: skip
            owners[name] = impl.plugin_name
            found.append(authenticator)
    return sorted(found, key=lambda item: (item.name != "tokens", item.name))


__all__ = ["authenticators_of"]
