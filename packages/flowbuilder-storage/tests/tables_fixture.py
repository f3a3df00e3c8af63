"""Callables for the table tests (imported by the runner's ``python`` task type)."""

from __future__ import annotations

import polars as pl


def make_frame() -> pl.DataFrame:
    return pl.DataFrame({"city": ["Oslo", "Lima", "Pune"], "rain_mm": [763.0, 16.0, 722.5]})
