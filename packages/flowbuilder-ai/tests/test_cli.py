"""``flowbuilder ai train`` / ``ai score`` as a user runs them (subprocesses), and hostile cases."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ai_test_runs import make_host, run_once

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLOWBUILDER, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "FLOWBUILDER_AI__SCORING": "false", **(env or {})})  # fmt: skip


@pytest.fixture(scope="module")
def history_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A RocksDB store with 30 normal runs and one whose ``fetch`` is 20x slower; (url, slow run)."""
    pytest.importorskip("flowbuilder_storage")
    from flowbuilder_storage.rocksdb_store import RocksDBStore

    url = f"rocksdb://{tmp_path_factory.mktemp('ai-cli')}/db"
    host = make_host(False)
    with RocksDBStore.open(url) as store:
        for _ in range(30):
            run_once(host, store, 0.05)
        slow = run_once(host, store, 1.0)
    return url, slow


def test_score_a_past_run_prints_and_annotates(history_store: tuple[str, str]) -> None:
    url, slow = history_store
    done = _cli("ai", "score", slow, "--store", url, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [a["task"] for a in result["anomalies"]] == ["fetch"]
    assert result["scored"] == 2
    done = _cli("ai", "score", slow, "--store", url, "--annotate")
    assert done.returncode == 0 and "fetch: score" in done.stdout and "its median is" in done.stdout
    shown = _cli("runs", "show", slow, "--store", url)
    assert "anomaly fetch" in shown.stdout and "its median is" in shown.stdout, shown.stdout


def test_train_writes_a_versioned_model_that_scores(history_store: tuple[str, str], tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("skl2onnx")
    url, slow = history_store
    done = _cli("ai", "train", "--store", url, "--workflow", "aitest", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "evaluation on injected anomalies: precision" in done.stdout
    (model,) = tmp_path.glob("anomaly-*.onnx")
    sidecar = json.loads(model.with_suffix(".json").read_text())
    assert sidecar["features"] and sidecar["sha256"] and "scikit-learn" in sidecar["libraries"]
    scored = _cli("ai", "score", slow, "--store", url, "--model", str(model), "--json")
    assert scored.returncode == 0, scored.stderr
    assert "fetch" in [a["task"] for a in json.loads(scored.stdout)["anomalies"]]


def _one_line_failure(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_train_without_history_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from flowbuilder_storage.rocksdb_store import RocksDBStore

    url = f"rocksdb://{tmp_path}/empty"
    RocksDBStore.open(url).close()
    _one_line_failure(_cli("ai", "train", "--store", url, "--out", str(tmp_path / "m")), "too little history")


def test_train_into_a_folder_that_cannot_be_made_is_one_line(history_store: tuple[str, str], tmp_path: Path) -> None:
    """``--out`` under a file once trained first, then exited 70 with NotADirectoryError."""
    (tmp_path / "a-file").write_text("")
    done = _cli("ai", "train", "--store", history_store[0], "--out", str(tmp_path / "a-file" / "models"))
    _one_line_failure(done, "cannot create the model folder", "--out")


def test_train_without_the_extra_says_how_to_install(history_store: tuple[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    (blocker / "sklearn").mkdir(parents=True)
    (blocker / "sklearn" / "__init__.py").write_text("raise ImportError('blocked by the test', name='sklearn')\n")
    done = _cli("ai", "train", "--store", history_store[0], "--out", str(tmp_path / "m"),
                env={"PYTHONPATH": str(blocker)})  # fmt: skip
    _one_line_failure(done, "pip install flowbuilder-ai[train]")


def test_missing_or_damaged_model_is_one_line(history_store: tuple[str, str], tmp_path: Path) -> None:
    url, slow = history_store
    _one_line_failure(_cli("ai", "score", slow, "--store", url, "--model", str(tmp_path / "gone.onnx")), "missing")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not onnx")
    bad.with_suffix(".json").write_text(json.dumps({"features": ["x"], "threshold": 0.1, "sha256": "0"}))
    _one_line_failure(_cli("ai", "score", slow, "--store", url, "--model", str(bad)), "sha256")
    # Bytes that are no ONNX model under a sidecar that vouches for them (its sha256 matches):
    # onnxruntime's InvalidProtobuf once escaped as exit 70.
    from flowbuilder_ai.scoring import shipped_model_path

    sidecar = json.loads(shipped_model_path().with_suffix(".json").read_text())
    sidecar["sha256"] = hashlib.sha256(b"\x00not onnx").hexdigest()
    bad.with_suffix(".json").write_text(json.dumps(sidecar))
    _one_line_failure(_cli("ai", "score", slow, "--store", url, "--model", str(bad)), "onnxruntime cannot use", "train")


def test_unknown_run_is_one_line(history_store: tuple[str, str]) -> None:
    _one_line_failure(_cli("ai", "score", "no-such-run", "--store", history_store[0]), "no-such-run")


@pytest.mark.parametrize("args", [("score", "\udcff"), ("train", "--workflow", "\udcff")])
def test_argument_bytes_that_are_not_utf8_are_one_line(args: tuple[str, ...], tmp_path: Path) -> None:
    """``ai score $'\\xff'`` was "internal error" (exit 70) once the store encoded the run id."""
    done = _cli("ai", *args, "--store", f"rocksdb://{tmp_path}/none")  # the str holds the raw byte 0xff
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().endswith("'\\xff': not valid UTF-8 text") and len(done.stderr.splitlines()) == 1


def test_plugin_import_with_scoring_off_loads_no_polars_or_onnxruntime() -> None:
    code = """
import sys
from flowbuilder.config import Settings
from flowbuilder.plugins import build_plugin_host
from flowbuilder.stores.memory import MemoryStore
host = build_plugin_host(Settings(load_plugins=("core", "ai"), sections={"ai": {"scoring": "false"}}))
assert not host.failures
store = MemoryStore.open("memory://lazy")
assert host.event_sinks("r", store) == []
print(sorted(m for m in ("polars", "onnxruntime", "numpy", "flowbuilder_ai.sink") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_missing_model_while_scoring_warns_once_and_never_fails_the_run(tmp_path: Path, capsys: Any) -> None:
    from flowbuilder.stores.memory import MemoryStore

    host = make_host(True, model=str(tmp_path / "gone.onnx"))
    store = MemoryStore.open("memory://ai-missing-model")
    try:
        run_once(host, store, 0.01)
        run_once(host, store, 0.01)
    finally:
        store.close()
        MemoryStore.forget("memory://ai-missing-model")
    err = capsys.readouterr().err
    assert err.count("anomaly scoring of run") == 2 and "is missing" in err
