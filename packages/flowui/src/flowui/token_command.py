"""``flowbuilder token new --name N --role R``: make an API token, print it once with the lines to paste."""

from __future__ import annotations

import click


@click.group()
def token() -> None:
    """API tokens for `flowbuilder serve` (REST and gRPC)."""


@token.command("new")
@click.option("--name", required=True, help="Who the token is for; shown in the audit log (e.g. ci).")
@click.option("--role", required=True, type=click.Choice(["viewer", "operator", "admin"]),
              help="viewer reads; operator also starts and steers runs; admin may do anything.")  # fmt: skip
def new(name: str, role: str) -> None:
    """Print a fresh token (shown only now: store it in your secret manager) and the
    flowbuilder.toml lines that let it in (they hold only its SHA-256)."""
    from flowbuilder.errors import ConfigurationError
    from flowui.tokens import check_token_name, new_token

    try:
        check_token_name(name)
    except ConfigurationError as error:
        raise click.UsageError(str(error)) from None
    secret, digest = new_token()
    click.echo(secret)
    click.echo(
        f"\n# add to flowbuilder.toml (or to the file $FLOWBUILDER_API_TOKENS_FILE names, as [[tokens]]):\n"
        f'[[serve.tokens]]\nname = "{name}"\nrole = "{role}"\nsha256 = "{digest}"',
        err=True,
    )
