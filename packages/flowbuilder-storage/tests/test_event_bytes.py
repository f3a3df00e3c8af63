"""The fast event encoder writes exactly core's stored form, byte for byte."""

from __future__ import annotations

import random
from typing import Any

import pytest

from flowbuilder.events import EventKind, RunEvent, encode_event
from flowbuilder_storage._event_bytes import event_bytes

TEXTS = [
    "",
    "plain",
    "naïve café",
    "日本語 ✓ 🚀",
    'quote " and \\ backslash',
    "ctl \x00\x01\n\t",
    "\u2028\u2029",
    "\ud800",
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12 if depth < 3 else 7)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randint(-(2**70), 2**70)
    if choice == 3:
        return rng.choice([0.0, -0.0, 1e-7, 1.5e300, rng.random() * 1e6, float("nan"), float("inf")])
    if choice == 4:
        return rng.choice(TEXTS)
    if choice == 5:
        return rng.choice([b"bytes", EventKind.TASK_STARTED, 3 + 4j])
    if choice == 6:
        return rng.choice([(1, "a"), frozenset()])
    if choice in (7, 8):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(TEXTS): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def test_event_bytes_equal_core_encoding_for_varied_events() -> None:
    rng = random.Random(42)
    for _ in range(3000):
        event = RunEvent(
            "run",
            rng.randint(1, 10**12),
            rng.choice(list(EventKind)),
            task=rng.choice([None, *TEXTS]),
            attempt=rng.choice([0, 1, 7]),
            data={} if rng.random() < 0.3 else {"output": random_value(rng), "duration": rng.random()},
            time=rng.choice([rng.random() * 2e9, 5, float("inf")]),
        )
        try:
            expected = encode_event(event)
        except UnicodeEncodeError:  # a lone surrogate cannot be stored; both refuse it alike
            with pytest.raises(UnicodeEncodeError):
                event_bytes(event)
            continue
        assert event_bytes(event) == expected, event


def test_a_circular_value_raises_like_core_and_leaves_the_encoder_usable() -> None:
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(ValueError, match="Circular reference"):
        event_bytes(RunEvent("run", 1, EventKind.TASK_ANNOTATED, data={"x": looped}))
    fine = RunEvent("run", 2, EventKind.TASK_ANNOTATED, data={"x": [1, 2]})
    assert event_bytes(fine) == encode_event(fine)
