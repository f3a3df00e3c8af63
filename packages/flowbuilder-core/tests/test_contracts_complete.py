"""No implementation in this repository silently drops a contract test.

The contracts (``contracts/``, ``flowbuilder_contracts``) record the tests each defines. An
implementation may extend a test by overriding it with a call to the contract's version,
but never drop one. These tests check every test module of the repository statically (no
imports, so a package whose dependencies are missing is still checked) and prove that both
the static and the run-time audit catch each way of dropping a test.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flowbuilder_contracts import (
    CONTRACT_TESTS,
    CONTRACTS,
    ConsensusEngineContract,
    RunnerContract,
    StoreContract,
    TaskTypeContract,
    audit_implementation,
    audit_source,
)

REPOSITORY = Path(__file__).resolve().parents[3]


def repository_test_files() -> list[Path]:
    roots = [*REPOSITORY.glob("packages/*/tests"), *REPOSITORY.glob("examples/*/tests"), REPOSITORY / "tests"]
    this_file = Path(__file__).resolve()  # its deliberately broken examples below are not implementations
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.py") if p.resolve() != this_file)


def test_every_contract_lists_its_tests() -> None:
    for contract in CONTRACTS:
        names = CONTRACT_TESTS[contract.__name__]
        assert names == contract.contract_tests and len(names) >= 5
        assert all(name.startswith("test_") for name in names)
        assert "test_implementation_keeps_every_contract_test" in names


def test_no_implementation_in_the_repository_drops_a_contract_test() -> None:
    implementations: list[str] = []
    problems: list[str] = []
    for path in repository_test_files():
        found, dropped = audit_source(path.read_text(encoding="utf-8"), str(path.relative_to(REPOSITORY)))
        implementations.extend(found)
        problems.extend(dropped)
    assert problems == []
    assert "TestMemoryStore" in implementations  # the scan really reaches the test modules


# -- the run-time audit catches every way of dropping a test ---------------------------------


def test_an_implementation_inheriting_everything_passes_the_audit() -> None:
    class TestComplete(StoreContract):
        pass

    assert audit_implementation(TestComplete) == []


def test_setting_a_contract_test_to_none_is_caught() -> None:
    class TestDropsOne(StoreContract):
        test_list_runs_is_newest_first = None  # type: ignore[assignment]

    (problem,) = audit_implementation(TestDropsOne)
    assert "test_list_runs_is_newest_first" in problem


def test_redefining_a_contract_test_without_calling_it_is_caught() -> None:
    class TestWeakens(RunnerContract):
        def test_params_reach_expressions(self, runner: object, contract_store: object) -> None:
            pass

    (problem,) = audit_implementation(TestWeakens)
    assert "without calling it" in problem and "test_params_reach_expressions" in problem


def test_extending_a_contract_test_through_super_is_allowed() -> None:
    class TestExtends(TaskTypeContract):
        def test_is_a_task_type(self, task_type: object) -> None:
            super().test_is_a_task_type(task_type)  # type: ignore[arg-type]

    assert audit_implementation(TestExtends) == []


def test_extending_by_naming_the_contract_class_is_allowed() -> None:
    class TestExtends(ConsensusEngineContract):
        def test_stop_is_idempotent(self, make_engine: object) -> None:
            ConsensusEngineContract.test_stop_is_idempotent(self, make_engine)  # type: ignore[arg-type]

    assert audit_implementation(TestExtends) == []


def test_marking_an_override_skip_is_caught() -> None:
    class TestSkips(StoreContract):
        @pytest.mark.skip(reason="flaky")
        def test_close_is_idempotent(self, store: object, reopened: object) -> None:
            super().test_close_is_idempotent(store, reopened)  # type: ignore[arg-type]

    (problem,) = audit_implementation(TestSkips)
    assert "skip" in problem


def test_marking_the_whole_class_xfail_is_caught() -> None:
    @pytest.mark.xfail
    class TestGivesUp(StoreContract):
        pass

    assert any("xfail" in problem for problem in audit_implementation(TestGivesUp))


def test_an_indirect_subclass_is_audited_against_the_contract() -> None:
    class TestBase(StoreContract):
        pass

    class TestDerived(TestBase):
        test_delete_run_leaves_other_runs_alone = None  # type: ignore[assignment]

    assert len(audit_implementation(TestDerived)) == 1


# -- the static audit catches the same ------------------------------------------------------


def audit(text: str) -> list[str]:
    return audit_source(textwrap.dedent(text), "example.py")[1]


def test_static_audit_accepts_a_complete_implementation() -> None:
    assert (
        audit("""
        class TestMine(StoreContract):
            def store(self): ...
            def test_extra_behaviour(self): ...
            def test_list_runs_is_newest_first(self, store):
                super().test_list_runs_is_newest_first(store)
                assert True
    """)
        == []
    )


def test_static_audit_catches_a_test_set_to_none() -> None:
    (problem,) = audit("""
        class TestMine(flowbuilder_contracts.StoreContract):
            test_list_runs_is_newest_first = None
    """)
    assert "example.py:3:" in problem and "replaces" in problem


def test_static_audit_catches_a_redefinition_without_the_contract() -> None:
    (problem,) = audit("""
        class TestMine(RunnerContract):
            async def test_params_reach_expressions(self, runner, contract_store):
                assert True
    """)
    assert "without calling" in problem


def test_static_audit_catches_skip_marks_on_tests_and_classes() -> None:
    problems = audit("""
        @pytest.mark.skip
        class TestMine(TaskTypeContract):
            pytestmark = [pytest.mark.xfail(reason="later")]

            @pytest.mark.skipif(True, reason="no")
            def test_is_a_task_type(self, task_type):
                super().test_is_a_task_type(task_type)
    """)
    assert len(problems) == 3
