"""``--workers URL``: send a run's attempts to remote workers instead of running them here.

One option object for ``run``, ``resume``, ``retry`` and ``scheduler``, so they say the same
thing. The URL's scheme picks a plugin's attempt executor (``redis://`` from
flowbuilder-distributed); without the flag, ``workers =`` in flowbuilder.toml or
``FLOWBUILDER_WORKERS`` applies, and without those every attempt runs in this process. The
command passes the value to :class:`~flowbuilder.run_service.RunService` (``workers=``).
"""

from __future__ import annotations

import click

from flowbuilder.cli.arguments import UTF8_TEXT

workers_option = click.option(
    "--workers",
    type=UTF8_TEXT,
    metavar="URL",
    help="Run attempts on remote workers (redis://HOST:PORT/DB); default: in this process.",
)

__all__ = ["workers_option"]
