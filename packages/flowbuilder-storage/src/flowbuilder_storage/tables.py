"""Tabular task outputs: Polars/Arrow tables that the runner stored as Arrow IPC blobs.

The runner records a task's Polars or Arrow output as a table reference envelope, whose
format core owns (:mod:`flowbuilder.tables`: ``{"$blob": ref, "format": "arrow-ipc",
"rows": n, "library": ..., "v": 1}``), and keeps the bytes with ``Store.put_blob``. :func:`read_table`
turns such an output back into a Polars frame: the blob is read once and Arrow reads the
columns straight out of those bytes (zero-copy with pyarrow; Polars' own IPC reader
otherwise). Polars (and pyarrow, when installed) are imported only when a table is read.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Mapping

from flowbuilder.errors import StoreError

if TYPE_CHECKING:
    import polars as pl

    from flowbuilder.interfaces import Store


def is_table_output(output: Any) -> bool:
    """Whether a recorded output is a reference to an Arrow IPC table (:func:`flowbuilder.tables.is_table_reference`)."""
    from flowbuilder.tables import is_table_reference

    return is_table_reference(output)


def read_table(store: Store, output: Mapping[str, Any] | str) -> pl.DataFrame:
    """The table behind a recorded output (or a blob reference) as a Polars DataFrame.

    Accepts IPC file (Feather v2) and stream formats. StoreError if the output is not a
    table reference (or one of a newer envelope version) or its bytes are not Arrow IPC.
    """
    from flowbuilder.tables import decode_table_reference

    if isinstance(output, str):
        ref = output
    else:
        reference = decode_table_reference(output)
        if reference is None:
            raise StoreError("not a table output: expected {'$blob': ref, 'format': 'arrow-ipc'}")
        ref = reference.blob
    return table_from_ipc(store.get_blob(ref), ref)


def table_from_ipc(data: bytes, where: str = "blob") -> pl.DataFrame:
    """Arrow IPC bytes (file or stream format) as a Polars DataFrame."""
    import polars as pl

    try:
        import pyarrow as pa
    except ImportError:
        pa = None
    try:
        if pa is not None:
            buffer = pa.py_buffer(data)  # the columns stay views into ``data``
            try:
                table = pa.ipc.open_file(buffer).read_all()
            except pa.ArrowInvalid:
                table = pa.ipc.open_stream(buffer).read_all()
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            return frame
        try:
            return pl.read_ipc(io.BytesIO(data))
        except Exception:
            return pl.read_ipc_stream(io.BytesIO(data))
    except Exception as error:
        raise StoreError(f"{where} is not an Arrow IPC table ({type(error).__name__}: {error})") from None
