"""Callables the example workflow's `python` tasks call."""

from __future__ import annotations


def make_rows(count: int) -> list[dict[str, int]]:
    return [{"id": i, "value": i * i} for i in range(count)]


def total(rows: list[dict[str, int]]) -> int:
    return sum(row["value"] for row in rows)
