"""Bounds on what a workflow file may make the loader do.

Kept apart from :mod:`flowbuilder.yamlsource` so that reading the configuration (which
every CLI command does, ``--help`` included) does not import PyYAML.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CACHE_TTL_SECONDS = 100 * 365 * 86400.0
"""The longest ``ttl`` a workflow may give (100 years): beyond it an expiry instant stops being a
number a store can keep. Here rather than only in :mod:`flowbuilder.caching` (which exports it
too) so that the workflow model reads it without importing the result cache's records."""


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """Bounds that keep a hostile file from exhausting memory or time.

    The defaults admit a 100,000-task workflow; ``flowbuilder.toml`` (``[limits]``) or the
    environment (``FLOWBUILDER_LIMITS__MAX_BYTES``..., which wins) can raise or lower each: ``max_bytes`` (file size), ``max_depth`` (nesting of mappings and
    sequences), ``max_aliases`` (``*alias`` uses) and ``max_expanded_nodes`` (nodes after
    every alias is expanded — what stops a "billion laughs" file).
    """

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 64
    max_aliases: int = 1_000
    max_expanded_nodes: int = 10_000_000


@dataclass(frozen=True, slots=True)
class ExpressionLimits:
    """Bounds that keep one ``${{ }}`` expression from exhausting memory, time or the stack.

    The scheduler evaluates expressions on its own thread, where nothing can interrupt a
    single long operation: each bound is checked *before* the operation that would pass it
    (see :mod:`flowbuilder.expression_bounds`).

    ``max_text`` and ``max_items`` bound any one text and any one list or mapping an
    expression makes; ``max_int_bits`` any one integer (100,000 bits: about 30,000 digits);
    ``max_format_width`` a width or precision in ``%`` or ``format``; ``max_total`` the
    characters and items made by one evaluation together; ``max_seconds`` its time;
    ``max_depth`` the nesting of operators, calls, filters and attribute chains, and
    ``max_brackets`` of brackets (either would otherwise exhaust the parser's stack).
    """

    max_text: int = 10_000_000
    max_items: int = 1_000_000
    max_int_bits: int = 100_000
    max_format_width: int = 10_000
    max_total: int = 50_000_000
    max_seconds: float = 0.5
    max_depth: int = 64
    max_brackets: int = 32


MAX_MATRIX_ITEMS = 10_000
"""At most this many items in one ``foreach: {matrix: ...}`` (the product of its lists' lengths).

A matrix multiplies: five lists of twenty values are 3.2 million items, each an attempt with
its events. A matrix written in the file is checked by the compiler (a located error); one
built from expressions is checked when the task starts (the task's non-retryable failure).
"""


def matrix_size(lengths: list[int]) -> int:
    """How many items a matrix of lists of these lengths makes (stops counting past the bound)."""
    if 0 in lengths:
        return 0
    size = 1
    for length in lengths:
        size *= length
        if size > MAX_MATRIX_ITEMS:
            return size
    return size


MAX_SUBWORKFLOW_DEPTH = 8
"""At most this many levels of ``type: workflow`` below a top-level run (a child is level 1).

A workflow that includes itself through ``path:`` is refused when it is loaded; this bound
stops what cannot be seen there (a chain of stored definitions, a chain too deep to be
meant) when the task starts, with a one-line, non-retryable failure."""

# -- schedules (issue 11.1) -----------------------------------------------------------------

DEFAULT_MAX_CATCHUP = 10
"""How many missed logical times a ``schedule`` with ``catchup: all`` runs after downtime
when it gives no ``max_catchup`` (the newest ones; older ones are skipped and logged)."""
MAX_CATCHUP_LIMIT = 1_000
"""The most ``max_catchup`` may say: a scheduler that was down for a month on a one-minute
schedule must not start 40,000 runs at once because a file asked for it."""
MAX_BACKFILL_RUNS = 10_000
"""The most logical times one ``flowbuilder backfill`` may start (split a larger range)."""
MAX_BACKFILL_PARALLEL = 256
"""The most runs ``flowbuilder backfill --parallel`` and ``scheduler --max-runs`` run at once."""
MAX_INTERVAL_SECONDS = 366 * 86400
"""The longest ``schedule: {every: ...}`` (a year); longer periods are cron's job."""
