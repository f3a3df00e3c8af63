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

    terms = 0
    """Leaderships so far, in this process: a one-node cluster's term."""

    def __init__(self, node_id: str):
        super().__init__(node_id)
        self._leading = threading.Event()
        self._thread: threading.Thread | None = None
        self._term = 0

    def _elect(self) -> None:
        SelfElectingEngine.terms += 1
        self._term = SelfElectingEngine.terms
        self._leading.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._elect, daemon=True)
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
        return self._term if self._leading.is_set() else None


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
    assert "8 failed, 4 passed, 5 skipped" in done.stdout, done.stdout


def test_an_engine_whose_fencing_token_never_grows_fails_the_contract(tmp_path: Path) -> None:
    """A deposed leader's appends are refused only if the next leader's token is greater."""
    (tmp_path / "test_constant.py").write_text(
        textwrap.dedent("""
        import pytest
        from flowbuilder.interfaces import ConsensusEngine
        from flowbuilder_contracts import ConsensusEngineContract

        class Constant(ConsensusEngine):
            name = "constant"
            leading = False
            def start(self): self.leading = True
            def stop(self): self.leading = False
            def is_leader(self): return self.leading
            def leader(self): return self.node_id if self.leading else None
            def fencing_token(self): return 1 if self.leading else None

        class TestConstant(ConsensusEngineContract):
            single_node_only = "one process"
            @pytest.fixture
            def make_engine(self):
                def make(node_id):
                    engine = Constant(node_id)
                    engine.start()
                    return engine
                return make
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
    assert "1 failed, 11 passed" in done.stdout, done.stdout
    assert "test_a_new_leadership_has_a_greater_fencing_token" in done.stdout
