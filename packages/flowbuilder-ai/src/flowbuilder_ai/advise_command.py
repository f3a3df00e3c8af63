"""``flowbuilder advise WORKFLOW``: the advisor's proposals for a workflow file, from its history.

Kept apart from :mod:`flowbuilder_ai.advisor` so the command's imports (click) and the
advisor's (Polars) load only when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from flowbuilder.cli.context import store_option


@click.command()
@click.argument("workflow", type=click.Path(path_type=Path, dir_okay=False))
@store_option("The store whose history is read (e.g. rocksdb://PATH, redis://HOST:PORT/DB).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def advise(workflow: Path, store: str | None, as_json: bool) -> None:
    """Propose changes to WORKFLOW from its run history: retries, timeouts, critical path,
    parallelism, tasks that fail together, results worth caching; each with its evidence and
    the YAML to paste."""
    from flowbuilder.cli.context import plugin_host
    from flowbuilder.errors import NoStoreError
    from flowbuilder.loader import load_plan
    from flowbuilder_ai.advisor import MIN_RUNS
    from flowbuilder_ai.advisor import advise as advise_plan
    from flowbuilder_ai.history import attempts_of, empty_attempts, export_runs
    from flowbuilder_ai.results import empty_results, results_of

    host = plugin_host()
    plan = load_plan(workflow, host)
    try:
        opened = host.open_store(store, create=False)  # reading never creates a store
    except NoStoreError:
        opened = None
    name = plan.workflow.name
    if opened is None:
        attempts, results = empty_attempts(), empty_results()
    else:
        exported = export_runs(opened, name)  # one read of the history for both frames
        attempts, results = attempts_of(opened, exported, name), results_of(opened, exported, name)
    runs = attempts["run_id"].n_unique() if not attempts.is_empty() else 0
    findings = advise_plan(plan, attempts, results)
    if as_json:
        click.echo(json.dumps({"workflow": plan.workflow.name, "runs": runs,
                               "findings": [f.as_dict() for f in findings]}, indent=2, default=str))  # fmt: skip
        return
    if runs < MIN_RUNS:
        where = host.default_store_url() if store is None else store
        click.echo(f"{plan.workflow.name}: {runs} runs in {where}; the advisor needs at least {MIN_RUNS}.")
        return
    if not findings:
        click.echo(f"{plan.workflow.name}: nothing to change after {runs} runs.")
        return
    click.echo(f"{plan.workflow.name}: {len(findings)} proposals from {runs} runs\n")
    for number, finding in enumerate(findings, 1):
        click.echo(f"{number}. [{finding.kind}] {finding.message}")
        for line in finding.yaml.rstrip("\n").splitlines():
            click.echo(f"     {line}")
        click.echo("")


__all__ = ["advise"]
