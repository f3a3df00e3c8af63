"""Commands that read workflows without running them: validate, plan, graph, schema."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import click

from flowbuilder.cli.context import plugin_host
from flowbuilder.errors import WorkflowError

if TYPE_CHECKING:
    from flowbuilder._validation_cache import ValidOutcome
    from flowbuilder.errors import Diagnostic

workflow_path = click.Path(path_type=Path, dir_okay=True)


@click.command()
@click.argument("files", nargs=-1, required=True, type=workflow_path)
@click.option("--quiet", "-q", is_flag=True, help="Print only problems.")
@click.option("--strict", is_flag=True, help="Treat warnings as problems (exit 2 when there are any).")
def validate(files: tuple[Path, ...], quiet: bool, strict: bool) -> None:
    """Check workflow files; print every problem as FILE:LINE:COL. Exit 2 if any is invalid.

    Warnings (valid, but probably unsafe) are printed as FILE:LINE:COL: warning: ... on
    stderr and do not change the exit status unless --strict is given.

    A file found valid before, with nothing changed since (its bytes, the settings, what is
    installed, the source of every module that checking it imported), is answered from the
    cache of :mod:`flowbuilder._validation_cache` without loading any plugin.
    """
    from flowbuilder._validation_cache import ValidationCache
    from flowbuilder.cli.context import settings

    current = settings()
    cache = ValidationCache(repr(current), current.limits.max_bytes)
    problems: list[Diagnostic] = []
    for path in files:
        outcome, key = cache.lookup(path)
        if outcome is None:
            try:
                outcome, other_files = _check(path)
            except WorkflowError as error:
                problems.extend(error.diagnostics)
                continue
            if key is not None and not plugin_host().failures and not other_files:
                cache.store(key, outcome)
        if strict:
            problems.extend(as_problem(warning) for warning in outcome.warnings)
        else:
            echo_warnings(outcome.warnings)
        if not quiet and not (strict and outcome.warnings):
            click.echo(f"{path}: ok ({outcome.tasks} tasks, {outcome.levels} levels)")
    if problems:
        raise WorkflowError(problems)


def _check(path: Path) -> tuple[ValidOutcome, bool]:
    """Load, validate and compile ``path`` with every plugin (WorkflowError when it is invalid).

    The flag says whether other files were read (sub-workflows): the cache keys on this
    file's bytes only, so such an answer is not kept.
    """
    from flowbuilder._validation_cache import ValidOutcome
    from flowbuilder.loader import load_plan
    from flowbuilder.subworkflows import pins_of

    plan = load_plan(path, plugin_host())
    return ValidOutcome(len(plan), len(plan.levels), tuple(plan.warnings)), bool(pins_of(plan))


def as_problem(warning: Diagnostic) -> Diagnostic:
    """A warning shown as a problem (``validate --strict``)."""
    from dataclasses import replace

    return replace(warning, message=f"warning: {warning.message}")


def echo_warnings(warnings: Sequence[Diagnostic]) -> None:
    """Print a plan's warnings on stderr, one ``FILE:LINE:COL: warning: ...`` line each."""
    for warning in warnings:
        click.echo(as_problem(warning).format(), err=True)


@click.command()
@click.argument("file", type=workflow_path)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(file: Path, as_json: bool) -> None:
    """Show how a workflow will run: levels, critical path and maximum width."""
    from flowbuilder.loader import load_plan

    compiled = load_plan(file, plugin_host())
    summary = compiled.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{summary['workflow']}[/bold] {summary['version']}: {summary['tasks']} tasks,"
                  f" {summary['edges']} dependencies, {len(summary['levels'])} levels, max width {summary['max_width']}")  # fmt: skip
    table = Table("level", "tasks", show_edge=False)
    for number, level in enumerate(summary["levels"]):
        shown = ", ".join(level[:12]) + (f", ... (+{len(level) - 12})" if len(level) > 12 else "")
        table.add_row(str(number), shown)
    console.print(table)
    unit = summary["critical_path_unit"]
    console.print(f"critical path ({summary['critical_path_cost']:g} {unit}): " + " -> ".join(summary["critical_path"]))


@click.command()
@click.argument("file", type=workflow_path)
@click.option("--format", "output_format", type=click.Choice(["mermaid", "dot", "text"]), default="text",
              show_default=True, help="mermaid and dot render as diagrams; text is for terminals.")  # fmt: skip
def graph(file: Path, output_format: str) -> None:
    """Print the dependency graph of a workflow."""
    from flowbuilder.graph_render import render_graph
    from flowbuilder.loader import load_plan

    click.echo(render_graph(load_plan(file, plugin_host()), output_format))


@click.command()
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write to a file instead of stdout."
)
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the workflow DSL (for editor autocompletion)."""
    from flowbuilder.errors import ConfigurationError
    from flowbuilder.model import workflow_json_schema

    text = json.dumps(workflow_json_schema(), indent=2)
    if output is None:
        click.echo(text)
        return
    try:  # non-blocking: a FIFO with no reader is refused (ENXIO) instead of waited on forever
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NONBLOCK", 0), 0o666)
        with os.fdopen(descriptor, "w", encoding="utf-8") as written:
            os.set_blocking(descriptor, True)
            written.write(text + "\n")
    except OSError as error:
        raise ConfigurationError(f"--output {str(output)!r}: cannot write ({error.strerror or error})") from None
    click.echo(f"wrote {output}", err=True)
