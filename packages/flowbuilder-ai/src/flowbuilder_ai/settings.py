"""The ``[ai]`` settings (``flowbuilder.toml`` or ``FLOWBUILDER_AI__KEY``)."""

from __future__ import annotations

from typing import Any, Mapping

_TRUE = ("true", "1", "yes", "on")


def enabled(section: Mapping[str, Any], key: str) -> bool:
    """``KEY = true`` (or 1, yes, on) in ``[ai]``: every part that costs something is off by default."""
    return str(section.get(key, "false")).strip().lower() in _TRUE


def scoring_enabled(section: Mapping[str, Any]) -> bool:
    """``scoring = true``: off by default (the sink reads history and loads a model)."""
    return enabled(section, "scoring")


def model_path(section: Mapping[str, Any]) -> str | None:
    """``model = PATH``: a retrained model (``flowbuilder ai train``) instead of the shipped one."""
    value = section.get("model")
    return str(value) if value else None
