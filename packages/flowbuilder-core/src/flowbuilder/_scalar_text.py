"""Scalars that remember the text they were written as, apart from the YAML parser.

:mod:`flowbuilder.yamlsource` makes these when a number's YAML text does not round-trip
(``1.10``, ``007``), and the DSL model (:mod:`flowbuilder.model`) reads the text back where
a field wants a string. They live here, not beside the parser, so that importing the model
does not import PyYAML: a run whose validated workflow comes from the start-up cache
(:mod:`flowbuilder._workflow_form_cache`) never parses YAML at all.
"""

from __future__ import annotations

from typing import Any

__all__ = ["YamlFloat", "YamlInt", "source_text"]


class YamlInt(int):
    """An int whose YAML text does not round-trip (``007``, ``+3``, ``0x1f``)."""

    source: str


class YamlFloat(float):
    """A float whose YAML text does not round-trip (``1.10``, ``1e3``)."""

    source: str


def source_text(value: Any) -> str | None:
    """The text a scalar was written as, for fields that want a string; None if not a scalar."""
    if isinstance(value, str):
        return value
    source: Any = getattr(value, "source", None)
    if source is not None:
        return str(source)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return None
