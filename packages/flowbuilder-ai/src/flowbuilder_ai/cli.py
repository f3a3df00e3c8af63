"""``flowbuilder ai train`` and ``flowbuilder ai score RUN_ID``.

Errors are one line and exit 1 (no history, a missing model, the ``[train]`` extra missing).
Polars, onnxruntime and scikit-learn are imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from flowbuilder.cli.context import UTF8_TEXT, store_option


@click.group()
def ai() -> None:
    """Anomaly detection: retrain the model on your history, rescore a past run."""


def _fail(message: str) -> None:
    raise click.ClickException(message)


@ai.command()
@store_option("The store whose history to train on (e.g. rocksdb://PATH).")
@click.option("--workflow", type=UTF8_TEXT, metavar="W", help="Train on this workflow's runs only (default: all).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("models"), show_default=True,
              help="Folder for the model and its sidecar (anomaly-<time>.onnx / .json).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="The forest's random seed.")
def train(store: str | None, workflow: str | None, out: Path, seed: int) -> None:
    """Retrain the anomaly model on the stored history; print its evaluation."""
    from flowbuilder.cli.context import plugin_host
    from flowbuilder.errors import FlowBuilderError
    from flowbuilder_ai.scoring import AIError
    from flowbuilder_ai.training import train_on_history

    try:
        with plugin_host().open_store(store, create=False) as opened:
            path, report = train_on_history(opened, workflow, out, seed)
    except (AIError, FlowBuilderError) as error:
        _fail(str(error))
        return
    click.echo(f"wrote {path} and {path.with_suffix('.json').name}")
    click.echo(report)
    click.echo(f'use it: [ai] model = "{path}" in flowbuilder.toml')


@ai.command()
@click.argument("run_id", type=UTF8_TEXT)
@store_option("The store holding the run (e.g. rocksdb://PATH).")
@click.option(
    "--model", type=click.Path(dir_okay=False), help="A retrained model (default: [ai] model, or the shipped one)."
)
@click.option("--annotate", is_flag=True, help="Store each anomaly as an annotation on the run.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def score(run_id: str, store: str | None, model: str | None, annotate: bool, as_json: bool) -> None:
    """Rescore a past run's tasks against the workflow's history; print the anomalies."""
    from flowbuilder.cli.context import plugin_host
    from flowbuilder.errors import FlowBuilderError
    from flowbuilder_ai.rescore import rescore_run
    from flowbuilder_ai.scoring import AIError
    from flowbuilder_ai.settings import model_path

    host = plugin_host()
    chosen = model or model_path(host.settings.section("ai"))
    try:
        with host.open_store(store, create=False) as opened:
            result = rescore_run(opened, run_id, chosen, annotate=annotate, host=host)
    except (AIError, FlowBuilderError) as error:
        _fail(str(error))
        return
    if as_json:
        click.echo(json.dumps(result, default=str))
        return
    click.echo(f"run {run_id}: {result['scored']} tasks scored, {len(result['anomalies'])} anomalous"
               f" (threshold {result['threshold']:.3f})")  # fmt: skip
    for found in result["anomalies"]:
        click.echo(f"  {found['task']}: score {found['score']:.3f}: {found['why']}")
