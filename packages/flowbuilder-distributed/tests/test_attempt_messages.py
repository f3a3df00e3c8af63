"""Attempt and result messages: round trips, and garbage refused with a reason (never an exception)."""

from __future__ import annotations

import pytest

from flowbuilder_distributed.attempt_messages import (
    AttemptMessage,
    BadMessage,
    LogMessage,
    ResultMessage,
    read_attempt,
    read_log_message,
    read_result,
)


def message() -> AttemptMessage:
    return AttemptMessage("a-1", "results", "run", "task", 2, "python", {"callable": "m:f"}, {"up": [1]}, {"p": 1},
                          {"E": "v"}, {"item": True}, 2.5, ("gpu",), "g")  # fmt: skip


def test_an_attempt_survives_the_trip() -> None:
    assert read_attempt(message().encode()) == message()


def test_an_executors_request_for_live_lines_survives_the_trip_and_is_off_unless_asked() -> None:
    asked = message()
    asked.live_logs = True
    assert read_attempt(asked.encode()).live_logs is True
    assert read_attempt(message().encode()).live_logs is False
    assert read_attempt(message().encode().replace(b',"live_logs":false', b"")).live_logs is False  # an older executor


def test_live_lines_survive_the_trip_and_garbage_lines_are_refused() -> None:
    lines = LogMessage("a-1", [("stdout", "x"), ("stderr", "y")])
    assert read_log_message(lines.encode()) == lines
    for payload in (b'{"v": 1, "attempt_id": "a-1", "logs": [["stdout"]]}', b'{"v": 1, "logs": []}', b"junk"):
        with pytest.raises(BadMessage):
            read_log_message(payload)


def test_a_result_survives_the_trip() -> None:
    result = ResultMessage("a-1", "failed", "s", "1-0", "w", message="boom", failure={"exit_code": 3},
                           logs=[("stdout", "x")])  # fmt: skip
    assert read_result(result.encode()) == result


@pytest.mark.parametrize(
    "payload",
    [None, b"", b"not json", b"\xff\xfe", b"[1]", b'{"v": 2}', b"[" * 50_000, b'{"v": 1, "attempt_id": 5}',
     b'{"v": 1, "attempt_id": "a", "results": "r", "run_id": "r", "task": "t", "number": true, "type": "x"}',
     b'{"v": 1, "attempt_id": "a", "results": "r", "run_id": "r", "task": "t", "number": 1, "type": "x", "timeout": "NaN"}',
     b'{"v": 1, "attempt_id": "a", "results": "r", "run_id": "r", "task": "t", "number": 1, "type": "x", "env": {"A": 1}}',
     b'{"v": 1, "attempt_id": "a", "results": "r", "run_id": "r", "task": "t", "number": 1, "type": "x", "timeout": 1%s}'
     % (b"0" * 400)],
)  # fmt: skip
def test_garbage_is_a_bad_message_with_a_reason(payload: bytes | None) -> None:
    with pytest.raises(BadMessage) as refused:
        read_attempt(payload)
    assert str(refused.value)


def test_a_bad_message_keeps_the_ids_it_could_read_so_the_attempt_can_be_failed() -> None:
    with pytest.raises(BadMessage) as refused:
        read_attempt(b'{"v": 1, "attempt_id": "a-9", "results": "res", "number": 0}')
    assert (refused.value.attempt_id, refused.value.results) == ("a-9", "res")


def test_a_result_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(BadMessage, match="kind"):
        read_result(b'{"v": 1, "attempt_id": "a", "kind": "exploded", "stream": "s", "id": "1-0"}')
    # A kind that is a list or an object once raised TypeError (unhashable), which ended the
    # executor's reader thread: every run waiting on that executor hung forever.
    for kind in (b"[]", b'{"a": 1}'):
        with pytest.raises(BadMessage, match="kind"):
            read_result(b'{"v": 1, "attempt_id": "a", "kind": %s, "stream": "s", "id": "1-0"}' % kind)
