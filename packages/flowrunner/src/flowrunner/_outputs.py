"""What a task's output looks like in events, and how a process's stdout becomes an output.

Dependents in the same run receive the very object a task returned (by reference, nothing
copied). Events hold a storable form: plain JSON values as they are; a tabular value
(Polars or Arrow, recognised by duck typing so neither library is imported here) is written
to the store as an Arrow IPC blob and the event holds ``{"$blob": ref, "format":
"arrow-ipc", "rows": n, "library": "polars"|"pyarrow"}`` instead of the table.
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
    from flowrunner._scheduler import RunExecution

_PLAIN = (str, int, float, bool, type(None), dict, list)


def storable_output(run: RunExecution, task: str, output: Any) -> Any:
    """The form of ``output`` that goes into the task's ``task_succeeded`` event."""
    if isinstance(output, _PLAIN):
        return output
    store = run.request.store
    ipc = _arrow_ipc(output)
    if ipc is None:
        return output  # the store's encoder makes other values storable (lists, repr, ...)
    if store is None:
        return {"$table": True, "format": "arrow-ipc", "rows": _rows(output)}
    reference = store.put_blob(run.run_id, f"{task}.arrow", ipc)
    library = "polars" if type(output).__module__.startswith("polars") else "pyarrow"
    return {"$blob": reference, "format": "arrow-ipc", "rows": _rows(output), "library": library}


def is_table_reference(output: Any) -> bool:
    """Whether a recorded output stands for a table kept as an Arrow IPC blob."""
    return isinstance(output, dict) and "$blob" in output and output.get("format") == "arrow-ipc"


def restored_output(store: Store, task: str, output: Any) -> Any:
    """The value a recorded output stands for: a table reference becomes the table again.

    The table comes back in the library the task returned it in (a Polars DataFrame, or a
    pyarrow Table — a RecordBatch returns as a Table); a reference written before the
    library was recorded reads as Polars. Anything else is returned as it is. Raises
    NotInstalledError when that library is missing, StoreError when the blob is gone or
    is not Arrow IPC.
    """
    if not is_table_reference(output):
        return output
    reference = str(output["$blob"])
    library = output.get("library", "polars")
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
        import pyarrow as pa  # type: ignore[import-untyped]

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
