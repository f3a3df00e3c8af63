"""Hostile or odd input at the CLI's edges: what the files, arguments and task output can be.

Each case ends in one line and a deliberate exit status (2 for a bad workflow file, 1 for a
bad argument), never a hang, a traceback or "internal error" (70).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from flowbuilder.events import RunStatus, TaskState, TaskStatus
from flowbuilder.interfaces import RunResult
from flowbuilder.interfaces.store import LogLine
from flowbuilder.stores.memory import MemoryStore

from .conftest import cli_environment, flowbuilder_command

VALID = "name: ok\nparams:\n  p: {type: string}\ntasks:\n  - {name: a, type: shell, config: {command: echo}}\n"
TITLE = "\x1b]0;PWNED\x07"  # sets a terminal's window title
SHOWN = "\\x1b]0;PWNED\\x07"


# -- files that are not regular files -------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_fifo_is_refused_at_once_not_waited_on(command: str, tmp_path: Path) -> None:
    fifo = tmp_path / "wf.yaml"
    os.mkfifo(fifo)
    done = subprocess.run([*flowbuilder_command(), command, str(fifo)], capture_output=True, text=True,
                          env=cli_environment(), cwd=tmp_path, timeout=60)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr
        == f"{fifo}:1:1: is a FIFO (named pipe), not a workflow file (hint: give the path of a regular .yaml file)\n"
    )


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_device_is_refused_not_read(cli, device: str) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    result = cli("validate", device)
    assert (result.exit_code, result.stderr) == (2, f"{device}:1:1: is a device, not a workflow file (hint: give the path of a regular .yaml file)\n")  # fmt: skip


def test_a_regular_file_behind_a_symlink_is_read(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "real.yaml").write_text(VALID)
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    result = cli("validate", str(tmp_path / "link.yaml"))
    assert result.exit_code == 0, result.output


# -- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_a_utf16_file_is_refused_as_the_docs_say(cli, tmp_path: Path, codec: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "wide.yaml"
    text = VALID if codec == "utf-16" else "\ufeff" + VALID  # "utf-16" writes its BOM itself
    path.write_bytes(text.encode(codec))
    result = cli("validate", str(path))
    assert (result.exit_code, result.stderr) == (2, f"{path}:1:1: the file is UTF-16 text; workflow files are UTF-8 (hint: save the file as UTF-8)\n")  # fmt: skip


def test_a_utf8_byte_order_mark_is_still_accepted(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    assert cli("validate", str(path)).exit_code == 0


def test_a_param_that_is_not_utf8_is_a_one_line_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "wf.yaml"
    path.write_text(VALID)
    argument = os.fsdecode(b"p=\xff\xfe")  # what Python makes of those argv bytes
    result = cli("run", str(path), "--param", argument)
    assert (result.exit_code, result.stderr) == (2, "error: --param 'p=\\xff\\xfe': not valid UTF-8 text; pass it as UTF-8\n")  # fmt: skip


@pytest.mark.parametrize(
    ("args", "shown"),
    [(["logs", "RUN"], "RUN_ID"), (["logs", "r1", "TASK"], "TASK"), (["runs", "show", "RUN"], "RUN_ID"),
     (["runs", "list", "--workflow", "RUN"], "--workflow"), (["runs", "list", "--store", "RUN"], "--store")],
)  # fmt: skip
def test_names_and_urls_that_are_not_utf8_are_one_line_errors(cli, args: list[str], shown: str) -> None:  # type: ignore[no-untyped-def]
    bad = os.fsdecode(b"x\xff")
    result = cli(*[bad if arg in ("RUN", "TASK") else arg for arg in args])
    assert (result.exit_code, result.stderr) == (1, f"error: {shown} 'x\\xff': not valid UTF-8 text\n")


def test_the_real_executable_gets_the_same_one_line_for_raw_argv_bytes(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(VALID)
    argv = [os.fsencode(part) for part in flowbuilder_command()] + [b"run", b"wf.yaml", b"--param", b"p=\xff\xfe"]
    done = subprocess.run(argv, capture_output=True, env=cli_environment(), cwd=tmp_path, timeout=60)
    assert (done.returncode, done.stderr) == (
        2,
        b"error: --param 'p=\\xff\\xfe': not valid UTF-8 text; pass it as UTF-8\n",
    )


# -- output that cannot be written ------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("args", [("schema",), ("validate", "wf.yaml"), ("plan", "wf.yaml", "--json")])
def test_a_full_device_for_stdout_is_a_one_line_error_not_an_internal_one(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """``> /dev/full`` (a full disk) was "internal error: OSError" (exit 70)."""
    (tmp_path / "wf.yaml").write_text(VALID)
    with open("/dev/full", "w") as full:
        done = subprocess.run([*flowbuilder_command(), *args], stdout=full, stderr=subprocess.PIPE, text=True,
                              env=cli_environment(), cwd=tmp_path, timeout=60)  # fmt: skip
    assert (done.returncode, done.stderr) == (1, "error: cannot write the output: No space left on device\n")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/dev/full", "No space left on device"),  # was exit 70
        ("missing/schema.json", "No such file or directory"),  # was exit 70
        ("pipe", "No such device or address"),  # a FIFO nobody reads: was a wait forever
    ],
)
def test_schema_output_that_cannot_be_written_is_a_one_line_error(cli, tmp_path: Path, target: str,  # type: ignore[no-untyped-def]
                                                                  reason: str) -> None:  # fmt: skip
    if target == "/dev/full" and not os.path.exists(target):
        pytest.skip("no /dev/full here")
    if target == "pipe":
        os.mkfifo(tmp_path / "pipe")
    result = cli("schema", "--output", target)
    assert result.exit_code == 1 and result.stderr == f"error: --output '{target}': cannot write ({reason})\n"


# -- task output on a terminal --------------------------------------------------------------

URL = "memory://cli-input"


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    from .test_runs_commands import add_run

    opened = MemoryStore.open(URL)
    add_run(opened, "r1", 1.0, status="failed")
    opened.append_logs("r1", [LogLine("load", 1, "stdout", f"{TITLE}out\r"), LogLine("load", 1, "stderr", "\x9b2J")])
    yield opened
    MemoryStore.forget(URL)


def test_logs_neutralise_escape_sequences_on_a_terminal(
    cli, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("flowbuilder.cli.terminal.is_terminal", lambda stream: True)
    result = cli("logs", "r1", "--store", URL)
    assert result.stdout == f"[load#1] {SHOWN}out\\x0d\n"
    assert result.stderr == "[load#1] \\x9b2J\n"


def test_logs_to_a_pipe_or_file_are_the_task_s_exact_text(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    result = cli("logs", "r1", "--store", URL)
    assert result.stdout == f"[load#1] {TITLE}out\r\n"
    assert '"text": "\\u001b]0;PWNED\\u0007out\\r"' in cli("logs", "r1", "--json", "--store", URL).stdout


def test_the_failure_summary_of_run_is_neutralised_on_a_terminal(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from flowbuilder.cli.run_command import _summary

    monkeypatch.setattr("flowbuilder.cli.terminal.is_terminal", lambda stream: True)
    failed = TaskState(status=TaskStatus.FAILED, attempts=1, error=f"command exited with 3: {TITLE}")
    _summary(RunResult("r1", RunStatus.FAILED, {"load": failed}, 0.0, 1.0), store, as_json=False)
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x9b" not in err
    assert f"failed: load (attempt 1): command exited with 3: {SHOWN}" in err
    assert f"stdout: {SHOWN}out\\x0d" in err


def _read_pty(argv: list[str], cwd: Path) -> str:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal; what it wrote there."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, cwd=cwd,
                               env=cli_environment())  # fmt: skip
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="no pseudo-terminals")
def test_the_real_executable_neutralises_a_message_that_quotes_the_file_on_a_terminal(tmp_path: Path) -> None:
    # A double-quoted YAML string may hold ESC; the expression error quotes it back.
    (tmp_path / "wf.yaml").write_text(
        'name: w\ntasks:\n  - {name: a, type: shell, config: {command: "${{ params.\\e]0;PWNED\\a }}"}}\n'
    )
    shown = _read_pty([*flowbuilder_command(), "validate", "wf.yaml"], tmp_path)
    assert "\x1b]0;" not in shown
    assert "params.\\x1b]0;PWNED\\x07" in shown


# -- numbers of seconds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("pause", "r1", "--wait", "--wait-seconds", "nan"),  # waited forever for a run that never honoured it
        ("cancel", "r1", "--wait-seconds", "inf"),
        ("scheduler", "x.yaml", "--once", "--lease-seconds", "nan"),
        ("scheduler", "x.yaml", "--once", "--heartbeat", "nan"),
    ],
)
def test_a_number_of_seconds_that_is_not_finite_is_a_usage_error(cli, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """nan passes every bound of click's FloatRange (each comparison is false): refused where it is parsed."""
    result = cli(*args, "--store", "memory://seconds")
    assert result.exit_code == 2 and "is not a finite number" in result.stderr, result.stderr


# -- huge arguments ---------------------------------------------------------------------------

HUGE = "x" * 100_000


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "show", HUGE),
        ("logs", HUGE),
        ("resume", HUGE),
        ("retry", HUGE),
        ("cancel", HUGE),
        ("runs", "annotate", HUGE),
        ("logs", "r1", HUGE),
        ("runs", "annotate", "r1", "--task", "t" * 60_000),  # under an annotation's 64 KiB: the task is checked
        ("runs", "list", "--cursor", HUGE),
        ("runs", "list", "--since", HUGE),
        ("runs", "list", "--store", "nope://" + HUGE),
        ("run", "WF", "--param", HUGE + "=1"),
        ("run", "WF", "--param", HUGE),
        ("validate", HUGE),  # a path too long to open: its location is cut
        ("cache", "clear", "--workflow", HUGE),
        ("backfill", "WF", "--from", HUGE, "--to", "2026-01-01"),
        ("runs", "list", "--limit", HUGE),  # click's own messages, cut at the error boundary
        ("runs", "show", "r1", HUGE),
        # --runner and --workers: tests/test_cli_errors_end_to_end.py (core's tests install no runner)
    ],
    ids=lambda args: " ".join(arg[:12] for arg in args),
)
def test_an_error_quotes_a_huge_argument_cut_short(cli, store: MemoryStore, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               args: tuple[str, ...]) -> None:  # fmt: skip
    """A 100 KB run id gave a 100 KB "one-line" error: every quoted user value is cut, saying how long it was."""
    (tmp_path / "wf.yaml").write_text(VALID)
    given = [str(tmp_path / "wf.yaml") if arg == "WF" else arg for arg in args]
    result = cli(*given, *(() if "--store" in args or args[0] == "validate" else ("--store", URL)))
    assert result.exit_code in (1, 2), result.stderr[:300]
    message = result.stderr.splitlines()[-1]  # click's usage errors show the usage first
    assert message.startswith(("error: ", "Error: ", "x" * 80)), result.stderr[:300]
    assert len(result.stderr) < 800 and "characters)" in message, result.stderr[:300]
