"""``flowbuilder audit``: the audit log, newest first, as a table or JSON; one-line errors."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import pytest

from flowbuilder.audit import AuditRecord
from flowbuilder.stores.memory import MemoryStore

URL = "memory://audit-command"


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    store = MemoryStore.open(URL)
    yield store
    MemoryStore.forget(URL)


def _entry(index: int, **fields: Any) -> AuditRecord:
    values: dict[str, Any] = {"actor": "ci", "role": "operator", "action": "POST /api/v1/runs/{run_id}/cancel",
                              "target": f"run_id=r{index}", "outcome": "200", "client": "127.0.0.1:4000"}  # fmt: skip
    values.update(fields)
    return AuditRecord(**values)


def test_entries_are_listed_newest_first_with_who_what_and_outcome(cli: Callable[..., Any], store: MemoryStore) -> None:
    store.append_audit(_entry(1))
    store.append_audit(_entry(2, actor="viewer-ci", role="viewer", outcome="403"))
    result = cli("audit", "--store", URL)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["SEQ", "AT", "(UTC)"]
    assert lines[1].split()[0] == "2" and "viewer-ci" in lines[1] and "403" in lines[1] and "[run_id=r2]" in lines[1]
    assert lines[2].split()[0] == "1" and "POST /api/v1/runs/{run_id}/cancel" in lines[2]


def test_limit_and_after_page_through_older_entries(cli: Callable[..., Any], store: MemoryStore) -> None:
    for index in range(5):
        store.append_audit(_entry(index))
    first = cli("audit", "--store", URL, "--limit", "2")
    assert [line.split()[0] for line in first.stdout.splitlines()[1:]] == ["5", "4"]
    assert "--after 4" in first.stderr
    older = json.loads(cli("audit", "--store", URL, "--limit", "2", "--after", "4", "--json").stdout)
    assert [record["seq"] for record in older["records"]] == [3, 2] and older["next_after"] == 2


def test_json_gives_every_field_in_utc(cli: Callable[..., Any], store: MemoryStore) -> None:
    store.append_audit(_entry(1, detail='{"password": "hunter2-hidden"}'))
    shown = json.loads(cli("audit", "--store", URL, "--json").stdout)
    (record,) = shown["records"]
    assert set(record) == {"seq", "at", "actor", "role", "action", "target", "outcome", "client", "detail"}
    assert record["at"].endswith("Z") and "hunter2-hidden" not in record["detail"] and shown["next_after"] is None


def test_control_characters_in_an_entry_never_reach_the_terminal(cli: Callable[..., Any], store: MemoryStore) -> None:
    store.append_audit(_entry(1, actor="evil\x1b]0;owned\x07\x1b[31m", target="t\nforged line"))
    result = cli("audit", "--store", URL)
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and len(result.stdout.splitlines()) == 2


def test_an_empty_log_says_so_and_succeeds(cli: Callable[..., Any], store: MemoryStore) -> None:
    result = cli("audit", "--store", URL)
    assert result.exit_code == 0 and "no audit entries in memory://audit-command" in result.stdout


@pytest.mark.parametrize("args", [("--limit", "0"), ("--after", "0"), ("--limit", "many")])
def test_bad_arguments_are_one_line_errors_with_exit_2(cli: Callable[..., Any], args: tuple[str, ...]) -> None:
    result = cli("audit", "--store", URL, *args)
    assert result.exit_code == 2 and "Traceback" not in result.stderr and result.stdout == ""


def test_an_unknown_store_is_a_one_line_error(cli: Callable[..., Any]) -> None:
    result = cli("audit", "--store", "nosuch://x")
    assert result.exit_code not in (0, 70) and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_a_cursor_past_any_record_number_is_a_one_line_error(cli: Callable[..., Any], store: MemoryStore) -> None:
    """Was an empty page here and exit 70 on RocksDB (its 8-byte key could not hold the number)."""
    store.append_audit(_entry(1))
    result = cli("audit", "--store", URL, "--after", str(1 << 64))
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: audit cursor must be a record number from a previous page, got {1 << 64}"
