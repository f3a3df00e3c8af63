"""The ConsensusEngine contract is coherent: a minimal correct engine passes it, broken ones fail.

No consensus engine ships in core (NoOp and Raft come with flowbuilder-distributed), so the
suite is exercised here against a small in-process engine written for this purpose: a node
that elects itself on a background thread, the way a real one-node cluster does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flowbuilder.interfaces import ConsensusEngine
from flowbuilder_contracts import ConsensusEngineContract


class SelfElectingEngine(ConsensusEngine):
    """Leads its one-node cluster once its election thread has run; stop() steps down."""

    name = "self-electing"

    def __init__(self, node_id: str):
        super().__init__(node_id)
        self._leading = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._leading.set, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._leading.clear()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def is_leader(self) -> bool:
        return self._leading.is_set()

    def leader(self) -> str | None:
        return self.node_id if self._leading.is_set() else None

    def fencing_token(self) -> int | None:
        return 1 if self._leading.is_set() else None


class TestSelfElectingEngine(ConsensusEngineContract):
    single_node_only = "every self-electing engine leads: there is no cluster to form"

    @pytest.fixture
    def make_engine(self) -> Iterator[Callable[[str], ConsensusEngine]]:
        made: list[ConsensusEngine] = []

        def make(node_id: str) -> ConsensusEngine:
            engine = SelfElectingEngine(node_id)
            engine.start()
            made.append(engine)
            return engine

        yield make
        for engine in made:
            engine.stop()


def test_an_engine_that_never_leads_fails_the_contract(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text(
        textwrap.dedent("""
        import pytest
        from flowbuilder.interfaces import ConsensusEngine
        from flowbuilder_contracts import ConsensusEngineContract, consensus

        consensus.LEADERSHIP_TIMEOUT = 0.2

        class Follower(ConsensusEngine):
            name = "follower"
            def start(self): pass
            def stop(self): pass
            def is_leader(self): return False
            def leader(self): return None
            def fencing_token(self): return None

        class TestFollower(ConsensusEngineContract):
            single_node_only = "a follower alone"
            @pytest.fixture
            def make_engine(self):
                return Follower
        """)
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1
    assert "7 failed, 4 passed, 5 skipped" in done.stdout, done.stdout
