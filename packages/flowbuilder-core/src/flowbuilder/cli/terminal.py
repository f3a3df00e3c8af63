"""Text from tasks, shown on a terminal without letting it drive the terminal.

Task output and error messages are data, but a terminal obeys escape sequences in them:
``\\x1b]0;TITLE\\x07`` retitles the window, ``\\x1b[2J`` clears it, ``\\r`` and cursor moves
overwrite what was printed (a failure can be made to read as a success), and some
terminals answer queries by typing into the shell. So when the stream is a terminal, every
control character but tab and newline (C0, DEL, C1) and the bidirectional overrides are shown
as ``\\xNN`` / ``\\uNNNN`` escapes. When the stream is not a terminal (a pipe, a file) the
text is written unchanged, byte for byte what the task printed, for tools that want it
exact; ``--json`` output escapes these characters in any case, as JSON does.
"""

from __future__ import annotations

import json
import re
import sys
from typing import IO

import click

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralise(text: str) -> str:
    """``text`` with control characters shown as escapes (tab and newline kept)."""
    return _CONTROL.sub(_escape, text)


def one_line(value: object, width: int = 100) -> str:
    """``value`` as one line of at most ``width`` characters, safe on any terminal.

    For summaries (``runs show``) that must stay one line per item whatever a task
    returned: strings are shown as they are, anything else as compact JSON; newlines and
    tabs become ``\\n`` / ``\\t``, other control characters escapes as in :func:`neutralise`,
    and a longer text ends in ``...``. Always neutralised: a cut summary is never "exact".
    """
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = text[: width * 2]  # enough to fill the line; escapes only make it longer
    text = neutralise(text.replace("\n", "\\n").replace("\t", "\\t"))
    return text if len(text) <= width else text[: width - 3] + "..."


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def for_stream(text: str, *, err: bool = False) -> str:
    """``text`` as it may be written to stdout (or stderr with ``err``): neutralised on a terminal."""
    return neutralise(text) if is_terminal(sys.stderr if err else sys.stdout) else text


def echo(text: str, *, err: bool = False) -> None:
    """``click.echo`` for text that holds task output or anything else not written by us."""
    click.echo(for_stream(text, err=err), err=err)
