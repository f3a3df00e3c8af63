"""schemathesis against a live ``flowbuilder serve``'s OpenAPI document: no 5xx, every response
matching the schema (status codes, content types, bodies).

Bounded to stay under about a minute on a 2-core machine: ``--max-examples 5`` per operation
(the coverage phase adds its own boundary cases: ~900 requests in all) and a fixed seed so a
failure reproduces. The summary is printed (``pytest -s``) and kept as ``schemathesis.txt`` in
the test's temp folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from serve_process import ServeProcess

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


def test_the_openapi_document_holds_under_fuzzing(rocksdb_server: ServeProcess, tmp_path: Path) -> None:
    st = str(Path(sys.executable).with_name("st"))
    done = subprocess.run([st, "run", f"{rocksdb_server.url}/api/v1/openapi.json", "--max-examples", "5",
                           "--checks", CHECKS, "--seed", "1", "--no-color", "--request-timeout", "20"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    summary = done.stdout[done.stdout.find("SUMMARY") - 33 :] if "SUMMARY" in done.stdout else done.stdout
    (tmp_path / "schemathesis.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    print(summary)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary.split("Test cases:")[-1].splitlines()[1]
    assert "Traceback" not in rocksdb_server.stderr
