"""The blobs role of a store: large values of a run, kept out of its events.

A task output too large or too binary for an event (an Arrow table, see
:mod:`flowbuilder.tables`) is written with :meth:`BlobStore.put_blob`; the event holds the
returned reference. Rules every store keeps (the Store contract checks them):

* a reference is an opaque string: only the store that made it interprets it (callers
  neither parse nor build one); it is plain text that fits in JSON, so it can sit in an
  event;
* :meth:`BlobStore.get_blob` returns the bytes exactly as written, from any process that
  opens the same store, for as long as the run exists;
* a blob belongs to its run: :meth:`~flowbuilder.interfaces.run_index.RunIndex.delete_run`
  removes it, after which :meth:`BlobStore.get_blob` raises
  :class:`~flowbuilder.errors.StoreError`;
* putting the same name twice in one run keeps both (each call returns its own reference,
  or a reference to identical bytes).
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class BlobStore(ABC):
    """Large values of runs, by opaque reference."""

    @abstractmethod
    def put_blob(self, run_id: str, name: str, data: bytes) -> str:
        """Keep a large value of a run; return an opaque reference for :meth:`get_blob`."""

    @abstractmethod
    def get_blob(self, ref: str) -> bytes:
        """The bytes behind a reference from :meth:`put_blob`; StoreError if gone (run deleted) or unknown."""


__all__ = ["BlobStore"]
