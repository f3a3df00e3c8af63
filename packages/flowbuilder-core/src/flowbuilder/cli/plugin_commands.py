"""Commands about the installation: plugins and versions."""

from __future__ import annotations

import json

import click

from flowbuilder.cli.context import plugin_host


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins(as_json: bool) -> None:
    """List every discovered plugin: distribution, version and the hooks it implements."""
    host = plugin_host()
    rows = [
        {
            "name": i.name,
            "module": i.module,
            "distribution": i.distribution,
            "version": i.version,
            "hooks": list(i.hooks),
        }
        for i in host.infos
    ]
    failed = [
        {"name": f.name, "distribution": f.distribution, "version": f.version, "error": f.reason} for f in host.failures
    ]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "failed": failed}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("plugin", "distribution", "version", "hooks", show_edge=False)
    for info in host.infos:
        table.add_row(info.name, info.distribution or "-", info.version or "-", ", ".join(info.hooks))
    console = Console()
    console.print(table)
    for failure in host.failures:  # as Text: a reason may hold [brackets] that are not markup
        console.print(Text.assemble(("failed: ", "red"), failure.format()))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def version(as_json: bool) -> None:
    """Print the version of every installed FlowBuilder package."""
    from flowbuilder.versions import installed_versions

    versions = installed_versions()
    if as_json:
        click.echo(json.dumps(versions, indent=2))
        return
    width = max(len(name) for name in versions)
    for name, number in versions.items():
        click.echo(f"{name:<{width}}  {number}")
