"""Objects the commands share within one CLI process: settings and the plugin host."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowbuilder.config import Settings
    from flowbuilder.plugins import PluginHost


@lru_cache(maxsize=1)
def settings() -> Settings:
    from flowbuilder.config import load_settings

    return load_settings()


@lru_cache(maxsize=1)
def plugin_host() -> PluginHost:
    """Plugins loaded once per CLI process; load failures are warned about on stderr."""
    import click

    from flowbuilder.plugins import build_plugin_host

    host = build_plugin_host(settings())
    for failure in host.failures:
        click.echo(f"warning: {failure.format()}", err=True)
    return host
