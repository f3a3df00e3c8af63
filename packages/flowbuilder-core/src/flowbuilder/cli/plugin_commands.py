"""Commands about the installation: plugins and versions."""

from __future__ import annotations

import json

import click

from flowbuilder.cli.context import plugin_host

_KIND_LABELS = {
    "task_types": "task types",
    "store_schemes": "stores",
    "runners": "runners",
    "consensus_engines": "consensus engines",
    "trigger_sources": "trigger sources",
    "message_buses": "message buses",
    "attempt_executors": "attempt executors",
    "node_announcers": "node announcers",
}


def provides_text(provided: dict[str, list[str]]) -> str:
    """``task types: http, shell; stores: rocksdb://; event sinks`` (``-`` for nothing)."""
    parts = [f"{label}: {', '.join(provided[kind])}" for kind, label in _KIND_LABELS.items() if provided.get(kind)]
    parts.extend(provided.get("other", ()))
    return "; ".join(parts) or "-"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins(as_json: bool) -> None:
    """List every discovered plugin: distribution, version and what it provides."""
    from flowbuilder.errors import FlowBuilderError
    from flowbuilder.hookspecs import DEPRECATED_HOOKS

    host = plugin_host()
    try:
        provided = host.contributions()
        problem = None
    except FlowBuilderError as error:  # e.g. two plugins with one scheme: still list them all
        provided, problem = {}, str(error)
    rows = [
        {
            "name": i.name,
            "module": i.module,
            "distribution": i.distribution,
            "version": i.version,
            "hooks": list(i.hooks),
            "declares": list(i.declared_hooks),
            "deprecated_hooks": [hook for hook in i.hooks if hook in DEPRECATED_HOOKS],
            "provides": provided.get(i.name, {}),
        }
        for i in host.infos
    ]
    failed = [
        {"name": f.name, "distribution": f.distribution, "version": f.version, "error": f.reason} for f in host.failures
    ]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "failed": failed, "problem": problem}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("plugin", "distribution", "version", "provides", show_edge=False)
    for info in host.infos:
        shown = provides_text(provided[info.name]) if info.name in provided else ", ".join(info.hooks)
        table.add_row(Text(info.name), Text(info.distribution or "-"), Text(info.version or "-"), Text(shown))
    console = Console()
    console.print(table)
    for failure in host.failures:  # as Text: a reason may hold [brackets] that are not markup
        console.print(Text.assemble(("failed: ", "red"), failure.format()))
    for info in host.infos:
        if info.declared_hooks:
            console.print(Text(f"{info.name} declares hooks: {', '.join(info.declared_hooks)}"))
        for hook in info.hooks:
            if hook in DEPRECATED_HOOKS:
                console.print(
                    Text.assemble(("deprecated: ", "yellow"), f"{info.name} implements {DEPRECATED_HOOKS[hook]}")
                )
    if problem:
        console.print(Text.assemble(("problem: ", "red"), problem))


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
