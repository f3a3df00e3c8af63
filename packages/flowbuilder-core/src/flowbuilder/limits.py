"""Bounds on what a workflow file may make the loader do.

Kept apart from :mod:`flowbuilder.yamlsource` so that reading the configuration (which
every CLI command does, ``--help`` included) does not import PyYAML.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """Bounds that keep a hostile file from exhausting memory or time.

    The defaults admit a 100,000-task workflow; ``flowbuilder.toml`` (``[limits]``) can
    raise or lower each: ``max_bytes`` (file size), ``max_depth`` (nesting of mappings and
    sequences), ``max_aliases`` (``*alias`` uses) and ``max_expanded_nodes`` (nodes after
    every alias is expanded — what stops a "billion laughs" file).
    """

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 64
    max_aliases: int = 1_000
    max_expanded_nodes: int = 10_000_000
