"""Pausing Python's cyclic garbage collector while a workflow is loaded.

Loading a large workflow makes hundreds of thousands of dicts, lists and models that all
stay alive and form no garbage cycles. With the collector on, each young collection walks
the growing document again, and the older generations walk it again as it grows: on a
10,000-task file that was about a quarter of load-to-plan (bench/compile.py). Paused, the
objects are walked once, by the first collection after the load.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block; restore it only if this call disabled it.

    Nested uses are safe: an inner block leaves the collector off for the outer one. Memory
    freed by reference counting is freed as usual; only cycles wait for the end of the block.
    The switch is process-wide: loads overlapping in threads end with the collector on as
    long as it was on before the first began (the block that found it on turns it on again).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
