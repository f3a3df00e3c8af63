"""What a task's output looks like in events, and how a process's stdout becomes an output.

Dependents in the same run receive the very object a task returned (by reference, nothing
copied). Events hold a storable form: plain JSON values as they are; a tabular value
(Polars or Arrow, recognised by duck typing so neither library is imported here) is written
to the store as an Arrow IPC blob and the event holds core's table reference envelope
(:mod:`flowbuilder.tables`) instead of the table.
:func:`restored_output` turns such a reference back into a table of the same library when a
resumed run needs it.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import NotInstalledError, StoreError

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store
    from flowbuilder.tables import TableLibrary
    from flowrunner._process import Completed
    from flowrunner._scheduler import RunExecution

_PLAIN = (str, int, float, bool, type(None), dict, list)
_SCALARS = frozenset({type(None), bool, int, float})

DEFAULT_MAX_OUTPUT_BYTES = 16 << 20
DEFAULT_MAX_RUN_OUTPUT_BYTES = 256 << 20


def byte_count(value: Any, where: str) -> int:
    """A size setting: a whole number of bytes, or text like ``64MiB``, ``512k``, ``1GB``."""
    from flowbuilder.errors import ConfigurationError

    text = str(value).strip().lower().replace(" ", "")
    units = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
             "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}  # fmt: skip
    digits = text.rstrip("abegikm")
    unit = text[len(digits) :]
    if not digits.isdigit() or unit not in units or isinstance(value, bool):
        raise ConfigurationError(f"{where} = {value!r}: give a whole number of bytes, like 16777216 or 16MiB")
    return int(digits) * units[unit]


class OutputBudget:
    """Per-output and per-run limits on output size, charged as each task succeeds.

    Sizes are measured only where that is cheap and says something: scalars are free,
    text and bytes count their length, lists and dicts the length of their JSON text, and
    tables (Polars, Arrow) their in-memory size. Outputs recorded before a resume are not
    counted again.
    """

    __slots__ = ("per_output", "per_run", "used")

    def __init__(self, per_output: int, per_run: int):
        self.per_output = per_output
        self.per_run = per_run
        self.used = 0

    def refusal(self, output: Any) -> str | None:
        """Charge ``output``; the task's error message if it goes past a limit, else None.

        Also the message when ``output`` cannot be measured: a dict with keys JSON cannot hold
        (tuples), a container that holds itself, an object whose ``repr`` raises. No store
        could record it either (events are JSON, with ``repr`` as the fallback), and what
        raised here was raised inside the scheduler: an inline task's run crashed, an
        awaited or executor-run task's end was never recorded and its run never ended.
        """
        if type(output) in _SCALARS:
            return None
        try:
            size = output_size(output)
        except Exception as error:  # RecursionError too; a try costs nothing until it catches
            return (f"output cannot be recorded ({type(error).__name__}: {_first_line(error)}); return JSON-like"
                    " data (text keys, no cycles), text or a table")  # fmt: skip
        if size > self.per_output:
            return (f"output is {_human(size)}, over the limit of {_human(self.per_output)} per output"
                    " (max_output_bytes); write large results to a file or a table, or raise the limit")  # fmt: skip
        if self.used + size > self.per_run:
            return (f"output of {_human(size)} would take this run's outputs past {_human(self.per_run)}"
                    " (max_run_output_bytes); raise the limit or make outputs smaller")  # fmt: skip
        self.used += size
        return None


def output_size(output: Any) -> int:
    """The size :class:`OutputBudget` charges for ``output`` (see there)."""
    kind = type(output)
    if kind is str:
        return len(output) if len(output) < 1 << 16 else len(output.encode("utf-8", "surrogatepass"))
    if kind is bytes or kind is bytearray or kind is memoryview:
        return len(output)
    if kind is dict or kind is list or kind is tuple:
        return len(json.dumps(output, default=repr, ensure_ascii=False, check_circular=False))
    for measure in ("estimated_size", "get_total_buffer_size"):  # polars, pyarrow
        method = getattr(output, measure, None)
        if callable(method):
            try:
                return int(method())
            except Exception:  # a look-alike object: count it as its text below
                break
    return len(repr(output))


def _first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (so a task's error stays one line), at most 200 characters."""
    try:
        text = str(error)
    except Exception:  # an exception whose message itself cannot be made
        return "(no message)"
    return text.splitlines()[0][:200] if text else ""


def _human(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def storable_output(run: RunExecution, task: str, output: Any) -> Any:
    """The form of ``output`` that goes into the task's ``task_succeeded`` event."""
    if isinstance(output, _PLAIN):
        return output
    store = run.request.store
    ipc = _arrow_ipc(output)
    if ipc is None:
        return output  # the store's encoder makes other values storable (lists, repr, ...)
    from flowbuilder.tables import table_reference_output, unkept_table_output

    if store is None:
        return unkept_table_output(_rows(output))
    reference = store.put_blob(run.run_id, f"{task}.arrow", ipc)
    library: TableLibrary = "polars" if type(output).__module__.startswith("polars") else "pyarrow"
    return table_reference_output(reference, _rows(output), library)


def is_table_reference(output: Any) -> bool:
    """Whether a recorded output is core's table reference envelope (:mod:`flowbuilder.tables`)."""
    from flowbuilder.tables import is_table_reference as is_reference

    return is_reference(output)


def restored_output(store: Store, task: str, output: Any) -> Any:
    """The value a recorded output stands for: a table reference becomes the table again.

    The table comes back in the library the task returned it in (a Polars DataFrame, or a
    pyarrow Table — a RecordBatch returns as a Table); a reference written before the
    library was recorded reads as Polars. Anything else is returned as it is. Raises
    NotInstalledError when that library is missing, StoreError when the blob is gone, is
    not Arrow IPC, or the envelope is of a newer version.
    """
    from flowbuilder.tables import decode_table_reference

    table = decode_table_reference(output)
    if table is None:
        return output
    reference, library = table.blob, table.library
    try:
        data = store.get_blob(reference)
    except StoreError as error:
        raise StoreError(f"cannot resume: the table task {task!r} produced is not in the store ({error})") from None
    try:
        return _table_from_ipc(data, library)
    except ImportError:
        raise NotInstalledError(f"task {task!r} produced a {library} table; install {library} to resume this run"
                                " (its dependents need the table)") from None  # fmt: skip
    except Exception as error:
        raise StoreError(f"cannot resume: the table task {task!r} produced (blob {reference!r}) is not readable"
                         f" Arrow IPC ({type(error).__name__}: {error})") from None  # fmt: skip


def _table_from_ipc(data: bytes, library: str) -> Any:
    """Arrow IPC bytes, file or stream format, as a Polars DataFrame or a pyarrow Table."""
    if library == "pyarrow":
        import pyarrow as pa

        buffer = pa.py_buffer(data)
        try:
            return pa.ipc.open_file(buffer).read_all()
        except pa.ArrowInvalid:
            return pa.ipc.open_stream(buffer).read_all()
    import polars as pl

    try:
        return pl.read_ipc(io.BytesIO(data))
    except Exception:
        return pl.read_ipc_stream(io.BytesIO(data))


def _arrow_ipc(value: Any) -> bytes | None:
    writer = getattr(value, "write_ipc", None)  # polars.DataFrame
    if callable(writer) and type(value).__module__.startswith("polars"):
        buffer = io.BytesIO()
        writer(buffer)
        return buffer.getvalue()
    if type(value).__module__.startswith("pyarrow") and hasattr(value, "schema") and hasattr(value, "num_rows"):
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, value.schema) as stream:
            stream.write_table(value) if hasattr(value, "to_batches") else stream.write_batch(value)
        return bytes(sink.getvalue())
    return None


def _rows(value: Any) -> int | None:
    for attribute in ("height", "num_rows"):
        rows = getattr(value, attribute, None)
        if isinstance(rows, int):
            return rows
    return None


def output_from_stdout(lines: list[str]) -> Any:
    """The output of a process: its last line that parses as JSON (object or array), else all of stdout.

    Only objects and arrays count as "a JSON line", so ``echo 42`` or ``echo done`` give the
    text ``"42"``/``"done"`` rather than surprising number conversions. Trailing newlines of
    the whole text are removed.
    """
    for line in reversed(lines):
        text = line.strip()
        if text[:1] in ("{", "[") and text[-1:] in ("}", "]"):
            try:
                return json.loads(text)
            except ValueError:
                continue
    return "\n".join(lines).rstrip("\n")


def output_from_process(completed: Completed, limit_option: str = "max_log_bytes") -> Any:
    """The output of a finished process by :func:`output_from_stdout`'s rule, over its *whole* stdout.

    ``completed.stdout`` holds only what the log cap kept, but the reader kept the last JSON
    line seen past the cap, so the rule still sees the full stream. When the output would be
    all of stdout and stdout was cut, or the last candidate JSON line was too long to keep,
    the true output is unknown: the task fails (not retried: the same process would print the
    same) instead of succeeding with a wrong value.
    """
    from flowbuilder.interfaces import TaskFailure

    if completed.late_json:
        return completed.late_json[0]
    if completed.late_json_dropped:
        raise TaskFailure(
            "the last JSON line of stdout was too long to keep, so the output is unknown;"
            f" raise {limit_option} or write large results to a file",
            retryable=False,
        )
    output = output_from_stdout(completed.stdout)
    if completed.stdout_truncated and not isinstance(output, (dict, list)):
        raise TaskFailure(
            f"stdout went past {limit_option} and no line of it is JSON, so the output (all of stdout)"
            f" would be cut; print the result as a final JSON line, or raise {limit_option}",
            retryable=False,
        )
    return output
