"""The table reference envelope: how an event points at a table output kept as a blob.

A task that returns a Polars DataFrame or a pyarrow Table does not put the table into its
``task_succeeded`` event. The runner writes the table to the store as an Arrow IPC blob
(:meth:`~flowbuilder.interfaces.blobs.BlobStore.put_blob`) and the event's ``output`` holds
this envelope instead::

    {"$blob": "<opaque reference>", "format": "arrow-ipc", "rows": 3, "library": "polars", "v": 1}

Core owns the format so that the package writing it (the runner) and the packages reading
it (the storage package's history tools, the UI, the AI) agree without importing each
other. Fields:

* ``$blob`` — the store's reference; opaque, pass it to ``get_blob`` unchanged;
* ``format`` — always ``arrow-ipc`` (file or stream format; readers accept both);
* ``rows`` — the row count, or null when the library did not say;
* ``library`` — ``polars`` or ``pyarrow``: what the task returned, so a resumed run hands
  dependents the same kind of object (absent in envelopes written before 0.2: read as
  ``polars``);
* ``v`` — :data:`ENVELOPE_VERSION` (absent before 0.2: read as 1). An envelope with a
  higher version than this core knows is refused with a one-line
  :class:`~flowbuilder.errors.StoreError` asking to upgrade.

A run without a store records ``{"$table": true, "format": "arrow-ipc", "rows": n}``: a
table was produced but not kept; it is not a reference (:func:`decode_table_reference`
returns None for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

ENVELOPE_VERSION = 1
"""The version written by this core; readers accept this one and every earlier one."""

TABLE_FORMAT = "arrow-ipc"
"""The only blob format of table outputs: Arrow IPC (file or stream)."""

TableLibrary = Literal["polars", "pyarrow"]


@dataclass(frozen=True, slots=True)
class TableReference:
    """A table output kept as a blob: where it is and how to rebuild it."""

    blob: str
    rows: int | None
    library: TableLibrary = "polars"
    version: int = ENVELOPE_VERSION

    def to_output(self) -> dict[str, Any]:
        """The envelope as it goes into an event's ``output`` (plain JSON values)."""
        return {"$blob": self.blob, "format": TABLE_FORMAT, "rows": self.rows, "library": self.library,
                "v": self.version}  # fmt: skip


def table_reference_output(blob: str, rows: int | None, library: TableLibrary) -> dict[str, Any]:
    """The envelope of a table just written to the store at ``blob`` (current version)."""
    return TableReference(blob, rows, library).to_output()


def unkept_table_output(rows: int | None) -> dict[str, Any]:
    """What a run without a store records for a table output: that there was one, and its size."""
    return {"$table": True, "format": TABLE_FORMAT, "rows": rows}


def is_table_reference(output: Any) -> bool:
    """Whether a recorded output is a table reference envelope (of any version)."""
    return isinstance(output, Mapping) and "$blob" in output and output.get("format") == TABLE_FORMAT


def decode_table_reference(output: Any) -> TableReference | None:
    """The reference a recorded output holds, or None when it is not a table reference.

    Raises :class:`~flowbuilder.errors.StoreError` (one line) for an envelope of a newer
    version than this core reads, or one whose fields are not what this module documents.
    """
    if not is_table_reference(output):
        return None
    from flowbuilder.errors import StoreError

    version = output.get("v", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StoreError(f"table reference with an invalid version {version!r}; expected a whole number >= 1")
    if version > ENVELOPE_VERSION:
        raise StoreError(f"table reference of envelope version {version} was written by a newer FlowBuilder"
                         f" (this one reads up to {ENVELOPE_VERSION}); upgrade flowbuilder-core")  # fmt: skip
    blob, rows, library = output["$blob"], output.get("rows"), output.get("library", "polars")
    if not isinstance(blob, str) or not blob:
        raise StoreError(f"table reference with an invalid blob reference {blob!r}; expected a non-empty string")
    if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool)):
        raise StoreError(f"table reference with an invalid row count {rows!r}; expected a whole number or null")
    if library not in ("polars", "pyarrow"):
        raise StoreError(f"table reference names an unknown library {library!r}; expected 'polars' or 'pyarrow'")
    return TableReference(blob, rows, library, version)


__all__ = [
    "ENVELOPE_VERSION",
    "TABLE_FORMAT",
    "TableLibrary",
    "TableReference",
    "decode_table_reference",
    "is_table_reference",
    "table_reference_output",
    "unkept_table_output",
]
