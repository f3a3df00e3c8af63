"""The ``[ai]`` settings (``flowbuilder.toml`` or ``FLOWBUILDER_AI__KEY``)."""

from __future__ import annotations

from typing import Any, Mapping

_TRUE = ("true", "1", "yes", "on")


def scoring_enabled(section: Mapping[str, Any]) -> bool:
    """``scoring = true``: off by default (the sink reads history and loads a model)."""
    return str(section.get("scoring", "false")).strip().lower() in _TRUE


def model_path(section: Mapping[str, Any]) -> str | None:
    """``model = PATH``: a retrained model (``flowbuilder ai train``) instead of the shipped one."""
    value = section.get("model")
    return str(value) if value else None
