"""``flowbuilder run``: compile a workflow and hand it to the runner plugin."""

from __future__ import annotations

from pathlib import Path

import click

from flowbuilder.cli.context import plugin_host


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help="Set a workflow param (repeatable).")
@click.option("--store", metavar="URL", help="Where the run is recorded (memory://, rocksdb://PATH, redis://HOST:PORT/DB).")
@click.option("--runner", metavar="NAME", help="Which installed runner executes the run.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), help="At most this many tasks at once.")
def run(file: Path, params: tuple[str, ...], store: str | None, runner: str | None, concurrency: int | None) -> None:
    """Run a workflow. Exit 0 if it succeeded, 1 if it failed, 2 if it is invalid, 130 if cancelled."""
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.loader import load_workflow, plan_workflow
    from flowbuilder.params import parse_param_assignments, resolve_params

    host = plugin_host()
    source = load_workflow(file, limits=host.settings.limits)
    plan = plan_workflow(source, host)
    resolved = resolve_params(source.workflow, parse_param_assignments(params))
    engine = host.make_runner(runner)
    with host.open_store(store) as opened:
        digest = opened.save_definition(source.content)
        request = RunRequest(
            plan=plan,
            params=resolved,
            store=opened,
            concurrency=concurrency or host.settings.concurrency,
            definition_hash=digest,
        )
        result = engine.run(request)
    failed = [name for name, state in result.tasks.items() if state.status.value == "failed"]
    click.echo(f"run {result.run_id}: {result.status.value} ({len(result.tasks)} tasks,"
               f" {result.finished_at - result.started_at:.2f}s)")  # fmt: skip
    for name in failed:
        click.echo(f"  failed: {name}: {result.tasks[name].error}", err=True)
    raise SystemExit({"succeeded": 0, "cancelled": 130}.get(result.status.value, 1))
