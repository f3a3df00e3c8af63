"""The stored form of a control request refuses, in one line, what cannot be a signal's payload."""

from __future__ import annotations

import pytest

from flowbuilder.control import ControlRequest, encode_control_request
from flowbuilder.errors import StoreError


def nested(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


def test_a_payload_nested_deeper_than_json_goes_is_a_store_error_not_a_recursion_error() -> None:
    """Rule: ``RunService.signal(run, name, payload)`` with a payload nested past Python's
    recursion limit is refused like any payload that is not JSON (was a bare RecursionError)."""
    with pytest.raises(StoreError, match="signal payload is not JSON"):
        encode_control_request(ControlRequest("signal", name="go", payload=nested(100_000)))
    assert encode_control_request(ControlRequest("signal", name="go", payload=nested(50)))  # deep, but JSON
