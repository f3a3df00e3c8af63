"""What a task's output looks like in events, and how a process's stdout becomes an output.

Dependents in the same run receive the very object a task returned (by reference, nothing
copied). Events hold a storable form: plain JSON values as they are; a tabular value
(Polars or Arrow, recognised by duck typing so neither library is imported here) is written
to the store as an Arrow IPC blob and the event holds ``{"$blob": ref, "format":
"arrow-ipc", "rows": n}`` instead of the table.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    return {"$blob": reference, "format": "arrow-ipc", "rows": _rows(output)}


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
