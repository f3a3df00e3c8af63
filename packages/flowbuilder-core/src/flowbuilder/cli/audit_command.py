"""``flowbuilder audit``: the newest entries of a store's audit log (who did what, when, how it ended).

Reads an existing store only (never creates one), through the store's
:class:`~flowbuilder.interfaces.audit_log.AuditLog` role, so it works on any store that
keeps one. Entries come newest first; ``--after SEQ`` continues with older ones (the JSON
output gives ``next_after`` for that).
"""

from __future__ import annotations

import json

import click

from flowbuilder.cli.runs_commands import json_option, open_existing_store, store_choice, store_option
from flowbuilder.cli.terminal import echo, one_line


@click.command()
@click.option("--limit", "-n", type=click.IntRange(min=1, max=100_000), default=50, show_default=True,
              help="How many entries to show (the newest).")  # fmt: skip
@click.option("--after", type=click.IntRange(min=1), metavar="SEQ",
              help="Show the entries older than entry SEQ (the next page).")  # fmt: skip
@store_option
@json_option
def audit(limit: int, after: int | None, store: str | None, as_json: bool) -> None:
    """The audit log: every mutating API call (allowed or refused) — when, who, with which role,
    what, on what, from where and how it ended."""
    from flowbuilder.audit import AuditPage

    opened = open_existing_store(store)
    if opened is None:
        page = AuditPage([], None)
    else:
        with opened:
            page = opened.read_audit(after=after, limit=limit)
    if as_json:
        click.echo(json.dumps({"records": [record.to_dict() for record in page.records],
                               "next_after": page.next_after}, ensure_ascii=False))  # fmt: skip
        return
    if not page.records:
        echo(f"no audit entries in {store_choice(store)}")
        return
    click.echo(f"{'SEQ':>7} {'AT (UTC)':<19} {'ACTOR':<16} {'ROLE':<8} {'OUTCOME':<8} {'CLIENT':<21} ACTION / TARGET")
    for record in page.records:
        when = record.at.strftime("%Y-%m-%d %H:%M:%S")
        target = f" [{record.target}]" if record.target else ""
        echo(f"{record.seq:>7} {when:<19} {one_line(record.actor, 16):<16} {one_line(record.role, 8):<8}"
             f" {one_line(record.outcome, 8):<8} {one_line(record.client, 21):<21}"
             f" {one_line(record.action + target, 80)}")  # fmt: skip
    if page.next_after is not None:
        echo(f"(older entries: flowbuilder audit --after {page.next_after})", err=True)
