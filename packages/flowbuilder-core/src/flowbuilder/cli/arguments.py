"""Command-line values that must be text: run ids, task names, store URLs.

Bytes that are not UTF-8 reach ``sys.argv`` as lone surrogates; the first store or
terminal that encodes them fails deep inside a command ("internal error"). A file path may
hold such bytes (the OS takes them back unchanged), a name or URL never usefully does, so
these values are checked where they enter.
"""

from __future__ import annotations

import os
from typing import Any

import click

from flowbuilder.errors import ConfigurationError
from flowbuilder.params import shown_argument


class Utf8Text(click.ParamType):  # type: ignore[type-arg]  # generic in click 8.5's stubs only, not at run time
    """A string argument that must be valid UTF-8 (one-line error, exit 1, otherwise)."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                what = (param.opts[0] if param.opts and param.opts[0].startswith("-") else param.human_readable_name) if param else "argument"  # fmt: skip
                raise ConfigurationError(f"{what} '{shown_argument(value)}': not valid UTF-8 text") from None
        return value


UTF8_TEXT = Utf8Text()


def read_argument_file(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the file an ``@FILE`` argument names (the caller refuses more).

    Why: ``open()`` of a FIFO waits until some process opens it for writing, forever when none
    does (``--data @fifo`` hung). Opened without blocking, such a FIFO reads as empty at once,
    while a pipe that has a writer (``--data @<(command)``) still gives what it writes; the
    bound keeps ``@/dev/zero`` from filling memory. Raises ``OSError`` as ``open`` does (a
    directory: ``IsADirectoryError`` on the read).
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as opened:
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)  # a pipe's reads wait for its writer again
        return opened.read(limit + 1)


class FiniteFloatRange(click.FloatRange):
    """click's ``FloatRange`` that also refuses ``nan`` and ``inf`` (usage error, exit 2).

    Why: ``float("nan")`` passes every bound check (each comparison is false), so ``FloatRange(min=0)``
    takes ``--wait-seconds nan`` and a deadline of ``now + nan`` is never reached (the command
    waited forever); ``inf`` with no ``max`` fails later where it meets an integer or a clock.
    Every option that is a number of seconds is a finite number.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        number = click.FLOAT.convert(value, param, ctx)  # first: "inf is not finite" says more than a bound
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)
