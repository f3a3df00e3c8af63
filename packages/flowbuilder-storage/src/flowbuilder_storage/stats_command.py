"""``flowbuilder stats [WORKFLOW]``: task duration percentiles, success and retry rates, trends.

Added to the CLI through ``flowbuilder_cli_commands``; Polars is imported only when the
command runs.
"""

from __future__ import annotations

import json
import time

import click

from flowbuilder.cli.context import UTF8_TEXT, store_option


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f}ms" if value < 1 else f"{value:.2f}s"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@click.command()
@click.argument("workflow", required=False, type=UTF8_TEXT)
@click.option("--since", metavar="DURATION", help="Only runs created within this long ago (e.g. 7d).")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="How many slowest runs to show.")
@store_option("The store to read (e.g. rocksdb://PATH, redis://HOST:PORT/DB).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def stats(workflow: str | None, since: str | None, top: int, store: str | None, as_json: bool) -> None:
    """History of runs: per task P50/P95/P99 durations, success and retry rates, trend per day, slowest runs."""
    from flowbuilder.cli.context import parse_duration, plugin_host
    from flowbuilder.errors import NoStoreError
    from flowbuilder_storage.stats import history_report

    since_time = time.time() - parse_duration(since) if since else None
    try:
        opened = plugin_host().open_store(store, create=False)  # reading creates no store
    except NoStoreError as missing:
        if as_json:
            click.echo(json.dumps({"workflow": workflow, "runs": 0, "events": 0, "tasks": [], "trend": [],
                                   "slowest_runs": [], "skipped_durations": 0}))  # fmt: skip
        else:
            click.echo(f"no runs: {missing}")
        return
    with opened:
        report = history_report(opened, workflow, since_time, top)
    if as_json:
        click.echo(json.dumps(report, default=str))
        return
    click.echo(f"{report['runs']} runs, {report['events']} events" + (f" of {workflow}" if workflow else ""))
    if report["skipped_durations"]:
        click.echo(f"{report['skipped_durations']} recorded duration(s) left out: not a finite number of seconds")
    if not report["tasks"]:
        click.echo("no finished tasks recorded")
        return
    click.echo(f"{'WORKFLOW':<20} {'TASK':<28} {'RUNS':>7} {'OK':>7} {'RETRY':>7} {'P50':>9} {'P95':>9} {'P99':>9}")
    for row in report["tasks"]:
        click.echo(f"{(row['workflow'] or '-')[:20]:<20} {(row['task'] or '-')[:28]:<28} {row['executions']:>7}"
                   f" {_percent(row['success_rate']):>7} {_percent(row['retry_rate']):>7} {_seconds(row['p50']):>9}"
                   f" {_seconds(row['p95']):>9} {_seconds(row['p99']):>9}")  # fmt: skip
    days: dict[str, list[int]] = {}
    for row in report["trend"]:
        total = days.setdefault(row["day"], [0, 0])
        total[0] += row["executions"]
        total[1] += round(row["executions"] * (row["success_rate"] or 0))
    click.echo("")
    click.echo(f"{'DAY':<12} {'TASK RUNS':>10} {'OK':>7}")
    for day in sorted(days)[-14:]:
        runs, ok = days[day]
        click.echo(f"{day:<12} {runs:>10} {_percent(ok / runs if runs else None):>7}")
    if report["slowest_runs"]:
        click.echo("")
        click.echo(f"{'SLOWEST RUNS':<34} {'WORKFLOW':<20} {'STATUS':<10} {'TOOK':>9}")
        for row in report["slowest_runs"]:
            click.echo(f"{row['run_id']:<34} {(row['workflow'] or '-')[:20]:<20} {row['status'] or '-':<10}"
                       f" {_seconds(row['seconds']):>9}")  # fmt: skip
