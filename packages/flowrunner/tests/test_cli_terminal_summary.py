"""`flowbuilder run` on a real terminal: what is left on the screen when the run is over.

The live progress line redraws itself in place and erases itself when the run ends, so
these tests run the real executable on a pseudo-terminal and replay what it wrote through a
small screen model (the cursor moves and erasures rich uses); the summary must be on the
final screen, not only somewhere in the byte stream.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no pseudo-terminals")

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))
_CONTROL = re.compile(r"\x1b\[(\??)(\d*)([A-Za-z])|\r|\n")


def run_on_terminal(args: list[str], cwd: Path, columns: int = 100) -> tuple[int, str]:
    """Run ``flowbuilder ARGS`` with stdout and stderr on a pseudo-terminal: (exit code, bytes as text)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env.pop("COLUMNS", None)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen([FLOWBUILDER, *args], stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                               cwd=cwd, env=env)  # fmt: skip
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    code = process.wait(timeout=10)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def final_screen(text: str) -> list[str]:
    """The lines a terminal shows after ``text``: handles CR, LF, cursor up (ESC[nA) and
    erase line (ESC[2K); colours and cursor visibility change nothing that is read here."""
    lines = [""]
    row = column = 0
    position = 0
    for match in _CONTROL.finditer(text):
        for char in text[position : match.start()]:
            line = lines[row].ljust(column)
            lines[row] = line[:column] + char + line[column + 1 :]
            column += 1
        position = match.end()
        control = match.group()
        if control == "\r":
            column = 0
        elif control == "\n":
            row += 1
            column = 0
            if row == len(lines):
                lines.append("")
        elif match.group(3) == "A" and not match.group(1):
            row = max(0, row - int(match.group(2) or 1))
        elif match.group(3) == "K" and match.group(2) == "2":
            lines[row] = ""
    for char in text[position:]:
        line = lines[row].ljust(column)
        lines[row] = line[:column] + char + line[column + 1 :]
        column += 1
    return [line.rstrip() for line in lines if line.strip()]


def test_the_screen_model_applies_erasures_like_a_terminal() -> None:
    assert final_screen("one\r\ntwo\r\n\x1b[1A\x1b[2Kthree\r\n") == ["one", "three"]
    assert final_screen("abc\rX\x1b[31m\x1b[0m") == ["Xbc"]


def test_a_finished_run_leaves_its_outputs_and_failures_on_the_screen(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(
        "name: mixed\n"
        "tasks:\n"
        '  - {name: greet, type: shell, config: {command: "sleep 0.3; echo hello there"}}\n'
        '  - {name: count, type: python, depends_on: [greet], config: {callable: "builtins:len",'
        ' args: ["${{ tasks.greet.output }}"]}}\n'
        '  - {name: broken, type: shell, config: {command: "sleep 0.5; echo it went wrong >&2; exit 3"}}\n'
    )
    code, shown = run_on_terminal(["run", "wf.yaml", "--store", "memory://"], tmp_path)
    screen = final_screen(shown)
    assert code == 1, shown
    assert "\x1b[2K" in shown, "no live display was drawn: the test did not run on a terminal"
    summary = screen[next(i for i, line in enumerate(screen) if line.startswith("run ")) :]
    assert re.match(r"run \w+: failed in \d+\.\d\ds \(1 failed, 2 succeeded\)$", summary[0]), screen
    assert "  outputs:" in summary
    assert any(re.fullmatch(r"\s+greet\s+hello there", line) for line in summary), screen
    assert any(re.fullmatch(r"\s+count\s+11", line) for line in summary), screen
    assert "  failed: broken (attempt 1): command exited with 3: it went wrong" in summary
    assert "    stderr: it went wrong" in summary
    assert not any("finished:" in line for line in screen), "the live progress line was left behind"


def test_a_pipe_gets_no_output_summary(tmp_path: Path) -> None:
    """Off a terminal each task already had its own line; the summary stays one line."""
    (tmp_path / "wf.yaml").write_text(
        'name: one\ntasks:\n  - {name: greet, type: shell, config: {command: "echo hi"}}\n'
    )
    done = subprocess.run([FLOWBUILDER, "run", "wf.yaml", "--store", "memory://"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "outputs:" not in done.stdout
    assert done.stdout.splitlines()[-1].startswith("run ")


_MIXED = (
    "name: mixed\n"
    "tasks:\n"
    '  - {name: greet, type: shell, config: {command: "echo hi"}}\n'
    '  - {name: broken, type: shell, depends_on: [greet], config: {command: "echo bad >&2; exit 3"}}\n'
    '  - {name: after, type: shell, depends_on: [broken], config: {command: "true"}}\n'
)


def test_a_pipe_gets_failures_and_the_summary_but_no_line_per_task(tmp_path: Path) -> None:
    """Off a terminal the default is quiet (issue 10): a line per task cost as much as the task."""
    (tmp_path / "wf.yaml").write_text(_MIXED)
    done = subprocess.run([FLOWBUILDER, "run", "wf.yaml", "--store", "memory://"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d broken failed: command exited with 3: bad", lines[0]), lines
    assert re.fullmatch(r"run \w+: failed in \d+\.\d\ds \(1 failed, 1 skipped, 1 succeeded\)", lines[1]), lines
    assert len(lines) == 2, lines
    assert "  failed: broken (attempt 1): command exited with 3: bad" in done.stderr.splitlines()


def test_progress_brings_back_a_line_per_task_state_change(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_MIXED)
    for flag in ("--progress", "-v"):
        done = subprocess.run([FLOWBUILDER, "run", "wf.yaml", "--store", "memory://", flag], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 1, done.stderr
        shown = [line.split(" ", 1)[1] for line in done.stdout.splitlines()[:-1]]  # without the clock
        assert [line.split()[:2] for line in shown] == [["greet", "started"], ["greet", "succeeded"],
                                                        ["broken", "started"], ["broken", "failed:"],
                                                        ["after", "skipped:"]]  # fmt: skip


def test_the_live_line_follows_the_counters_between_batches(tmp_path: Path) -> None:
    """The status line is drawn by rich's refresh from the counters as they are then: a task
    that runs for a while is shown running while it runs, and finished once it is done."""
    (tmp_path / "wf.yaml").write_text(
        "name: slow\n"
        "tasks:\n"
        '  - {name: wait, type: shell, config: {command: "sleep 0.8"}}\n'
        '  - {name: then, type: shell, depends_on: [wait], config: {command: "sleep 0.8"}}\n'
    )
    code, shown = run_on_terminal(["run", "wf.yaml", "--store", "memory://"], tmp_path)
    assert code == 0, shown
    assert "0/2 finished: 0 done, 1 running" in shown, shown
    assert "1/2 finished: 1 done, 1 running" in shown, shown
