"""What a plugin's CLI command needs from core: settings, the plugin host, ``--store``, durations.

This is the public facade for plugins that add commands (``flowbuilder_cli_commands``);
the other modules of ``flowbuilder.cli`` are core's own and may change. The settings and
the host are loaded once per CLI process and shared by every command, so a plugin command
sees the same plugins (and the same warnings) as core's::

    @click.command("stats")
    @store_option("The store to read.")
    @click.option("--since", default=None)
    def stats(store_url, since):
        from flowbuilder.cli.context import parse_duration, plugin_host

        store = plugin_host().open_store(store_url)
        ...

:func:`store_option`, :func:`parse_duration`, :class:`FiniteFloatRange` (the type of an
option that is a number of seconds: click's ``FloatRange`` without ``nan`` and ``inf``) and
``UTF8_TEXT`` (the type of a name, id or URL argument: bytes that are not UTF-8 are a one-line
error where they enter, not an "internal error" where a store encodes them) and
:func:`read_argument_file` (an ``@FILE`` argument's bytes, bounded, never waiting on a FIFO)
are imported on first use (``flowbuilder --help`` stays fast).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowbuilder.cli.arguments import UTF8_TEXT, FiniteFloatRange, read_argument_file
    from flowbuilder.cli.runs_commands import parse_duration
    from flowbuilder.cli.store_option import store_option
    from flowbuilder.config import Settings
    from flowbuilder.plugins import PluginHost

_LAZY = {
    "FiniteFloatRange": "flowbuilder.cli.arguments",
    "UTF8_TEXT": "flowbuilder.cli.arguments",
    "parse_duration": "flowbuilder.cli.runs_commands",
    "read_argument_file": "flowbuilder.cli.arguments",
    "store_option": "flowbuilder.cli.store_option",
}


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this CLI process (environment and ``flowbuilder.toml``), read once."""
    from flowbuilder.config import load_settings

    return load_settings()


@lru_cache(maxsize=1)
def plugin_host() -> PluginHost:
    """Plugins loaded once per CLI process; load failures are warned about on stderr."""
    import click

    from flowbuilder._pydantic_plugins import skip_pydantic_plugin_scan
    from flowbuilder.plugins import build_plugin_host

    skip_pydantic_plugin_scan()  # before any model is built; changes nothing if a pydantic plugin exists
    host = build_plugin_host(settings())
    for failure in host.failures:
        click.echo(f"warning: {failure.format()}", err=True)
    return host


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flowbuilder.cli.context' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "UTF8_TEXT",
    "FiniteFloatRange",
    "parse_duration",
    "plugin_host",
    "read_argument_file",
    "settings",
    "store_option",
]
