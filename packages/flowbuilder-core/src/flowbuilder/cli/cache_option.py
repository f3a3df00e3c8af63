"""``--no-cache``: run tasks with ``cache:`` without reading or writing the result cache.

One option object for ``run``, ``resume`` and ``retry``, so the three say the same thing;
the command sets :attr:`flowbuilder.run_service.PreparedRun.use_cache` from it.
"""

from __future__ import annotations

import click

no_cache_option = click.option(
    "--no-cache", is_flag=True, help="Run tasks with `cache:` without reading or writing the result cache."
)

__all__ = ["no_cache_option"]
