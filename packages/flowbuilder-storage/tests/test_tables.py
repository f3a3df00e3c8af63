"""Polars/Arrow task outputs are stored as Arrow IPC blobs and read back as frames."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from tables_fixture import make_frame

from flowbuilder.errors import StoreError
from flowbuilder.interfaces import RunRequest
from flowbuilder.loader import load_plan
from flowbuilder.plugins import build_plugin_host
from flowbuilder_storage import RocksDBStore
from flowbuilder_storage.tables import is_table_output, read_table


def test_a_polars_output_of_a_real_run_reads_back_equal(tmp_path: Path) -> None:
    host = build_plugin_host()
    plan = load_plan("name: t\ntasks:\n  - {name: rain, type: python, config: {callable: 'tables_fixture:make_frame'}}\n",
                     host)  # fmt: skip
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db") as store:
        result = host.make_runner().run(RunRequest(plan=plan, store=store))
        recorded = store.load_state(result.run_id).tasks["rain"].output
        assert is_table_output(recorded) and recorded["rows"] == 3
        assert read_table(store, recorded).equals(make_frame())


def test_arrow_ipc_stream_blobs_read_back_equal(tmp_path: Path) -> None:
    table = pa.table({"n": [1, 2, 3]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db") as store:
        ref = store.put_blob("r", "n.arrow", sink.getvalue().to_pybytes())
        assert read_table(store, {"$blob": ref, "format": "arrow-ipc"}).equals(pl.DataFrame({"n": [1, 2, 3]}))


def test_a_blob_that_is_not_arrow_is_a_store_error(tmp_path: Path) -> None:
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db") as store:
        ref = store.put_blob("r", "junk", b"not arrow at all")
        with pytest.raises(StoreError, match="not an Arrow IPC table"):
            read_table(store, ref)


def test_a_plain_output_is_not_a_table() -> None:
    assert not is_table_output({"rows": 3})
    with pytest.raises(StoreError, match="not a table output"):
        read_table(None, {"rows": 3})  # type: ignore[arg-type]
