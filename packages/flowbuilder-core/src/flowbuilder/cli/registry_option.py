"""``--registry URL`` and ``--heartbeat S``: where a scheduler announces itself, and how often.

One option pair for the commands that run a long-lived node (``scheduler`` today), so they
say the same thing. The URL's scheme picks a plugin's node announcer (``redis://`` from
flowbuilder-distributed: the registry ``flowbuilder cluster status`` reads); without the flag,
``[registry] url`` in flowbuilder.toml or ``FLOWBUILDER_REGISTRY__URL`` applies, and without
those core's ``noop://`` (a single node announces to nobody). ``--heartbeat`` likewise falls
back to ``[registry] heartbeat`` / ``FLOWBUILDER_REGISTRY__HEARTBEAT``, then 2 seconds. The
command resolves both with :func:`registry_settings` and opens the announcer through
:meth:`~flowbuilder.plugins.PluginHost.open_node_announcer`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

from flowbuilder.cli.arguments import UTF8_TEXT, FiniteFloatRange

if TYPE_CHECKING:
    from flowbuilder.plugins import PluginHost

F = TypeVar("F", bound=Callable[..., Any])

MIN_HEARTBEAT = 0.05
MAX_HEARTBEAT = 3600.0


def registry_options(function: F) -> F:
    """``--registry`` and ``--heartbeat``, in the order ``--help`` shows them."""
    options = [
        click.option("--registry", type=UTF8_TEXT, metavar="URL",
                     help="Announce this node in the cluster's registry (redis://HOST:PORT/DB; `cluster status` lists"
                          " it); default: [registry] url, else nowhere."),
        click.option("--heartbeat", type=FiniteFloatRange(MIN_HEARTBEAT, MAX_HEARTBEAT), metavar="S",
                     help="Seconds between registry heartbeats (default: [registry] heartbeat, else 2)."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


def registry_settings(host: PluginHost, registry: str | None, heartbeat: float | None) -> tuple[str, float]:
    """The registry URL and heartbeat interval: the flags, else ``[registry]``, else ``noop://`` and 2 s.

    A ``[registry] heartbeat`` that is not a number in range is a
    :class:`~flowbuilder.errors.ConfigurationError` naming where it came from.
    """
    from flowbuilder.errors import ConfigurationError
    from flowbuilder.node_presence import DEFAULT_HEARTBEAT_SECONDS

    url = host.registry_url(registry)
    if heartbeat is not None:
        return url, heartbeat
    configured = host.settings.section("registry").get("heartbeat")
    if configured is None:
        return url, DEFAULT_HEARTBEAT_SECONDS
    try:
        seconds = float(configured)
    except (TypeError, ValueError):
        seconds = math.nan
    if not MIN_HEARTBEAT <= seconds <= MAX_HEARTBEAT:
        raise ConfigurationError(f"[registry] heartbeat (FLOWBUILDER_REGISTRY__HEARTBEAT) is {str(configured)[:40]!r}:"
                                 f" give seconds from {MIN_HEARTBEAT} to {MAX_HEARTBEAT:g}")  # fmt: skip
    return url, seconds


__all__ = ["MAX_HEARTBEAT", "MIN_HEARTBEAT", "registry_options", "registry_settings"]
