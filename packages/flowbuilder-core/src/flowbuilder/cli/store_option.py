"""The ``--store URL`` option, whose help names the store schemes actually installed.

The list comes from the plugins, so it is built only when a command's help is shown
(:meth:`StoreOption.get_help_record`), never while parsing: ``flowbuilder --help`` and every
command that is just run stay as fast as before, and nothing is imported for a help
screen that does not show this option.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import click

from flowbuilder.cli.arguments import UTF8_TEXT

F = TypeVar("F", bound=Callable[..., Any])


def installed_schemes_help() -> str:
    """``Installed: memory://, rocksdb://. Default: rocksdb://.flowbuilder.`` from the loaded plugins."""
    from flowbuilder.cli.context import plugin_host
    from flowbuilder.errors import FlowBuilderError, shown_url

    host = plugin_host()
    try:
        schemes = ", ".join(f"{scheme}://" for scheme in sorted(host.store_classes()))
        default = shown_url(host.default_store_url())  # --help may be shown on a screen or in a CI log
    except FlowBuilderError as error:  # a broken plugin must not break --help
        return f"(Installed stores unknown: {error})"
    return f"Installed: {schemes or 'none'}. Default: {default}."


class StoreOption(click.Option):
    """A click option whose help text ends with the installed store schemes, computed lazily."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        names, text = record
        return names, f"{text} {installed_schemes_help()}".strip()


def store_option(help: str) -> Callable[[F], F]:
    """``--store URL`` with ``help`` followed by the installed schemes and the default store."""
    return click.option("--store", cls=StoreOption, type=UTF8_TEXT, metavar="URL", help=help)


__all__ = [
    "StoreOption",
    "installed_schemes_help",
    "store_option",
]
