"""Knowing which tests each contract defines, and catching implementations that drop one.

A contract is a class marked ``__contract__ = True``; the ``test_*`` functions it defines
itself are its tests (:data:`CONTRACT_TESTS`). An implementation subclasses it and inherits
them all. It may *extend* a test by overriding it with a function that calls the contract's
version (``super().test_x(...)`` or ``StoreContract.test_x(self, ...)``), but it must not
drop one: setting it to ``None`` or to a non-function, redefining it without calling the
contract, or marking it (or the whole class) skip/xfail. :func:`audit_implementation` finds
each of those; every contract runs it as one of its own tests, and core's test suite runs
the same check statically over every test file in the repository.
"""

from __future__ import annotations

import types
from typing import Any

CONTRACT_TESTS: dict[str, tuple[str, ...]] = {}
"""Contract class name -> the names of the tests it defines, in definition order."""

_DROPPING_MARKS = frozenset({"skip", "skipif", "xfail"})


class Contract:
    """Base of every contract class; records the tests of each class marked as a contract."""

    __contract__ = False
    contract_tests: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("__contract__", False):
            names = tuple(
                name
                for name, value in cls.__dict__.items()
                if name.startswith("test_") and isinstance(value, types.FunctionType)
            )
            cls.contract_tests = names
            CONTRACT_TESTS[cls.__name__] = names


def contracts_of(cls: type) -> list[type[Contract]]:
    """The contract classes ``cls`` implements (nearest first)."""
    return [base for base in cls.__mro__ if issubclass(base, Contract) and base.__dict__.get("__contract__", False)]


def _marks(obj: Any) -> set[str]:
    found = getattr(obj, "pytestmark", None) or []
    if not isinstance(found, list):
        found = [found]
    return {getattr(mark, "name", "") for mark in found}


def _calls_contract(function: types.FunctionType, name: str, contract: type) -> bool:
    """Whether an override's code reaches the contract's test (``super().name`` or ``Contract.name``)."""
    code = function.__code__
    names: set[str] = set(code.co_names)
    for const in code.co_consts:  # nested code (e.g. an inner async def) counts too
        if isinstance(const, types.CodeType):
            names.update(const.co_names)
    return name in names and ("super" in names or contract.__name__ in names)


def audit_implementation(cls: type) -> list[str]:
    """Every way ``cls`` drops a test of a contract it implements (empty when it keeps all)."""
    problems: list[str] = []
    class_marks = _marks(cls) & _DROPPING_MARKS
    if class_marks:
        problems.append(f"{cls.__name__} is marked {', '.join(sorted(class_marks))}: that drops every contract test")
    for contract in contracts_of(cls):
        for name in contract.contract_tests:
            owner = next(base for base in cls.__mro__ if name in base.__dict__)
            value = owner.__dict__[name]
            where = f"{owner.__name__}.{name}"
            if owner is contract:
                dropping = _marks(value) & _DROPPING_MARKS
                if dropping:
                    problems.append(f"{where} of {contract.__name__} was marked {', '.join(sorted(dropping))}")
                continue
            if not isinstance(value, types.FunctionType):
                problems.append(f"{where} replaces the {contract.__name__} test with {value!r}")
                continue
            if not _calls_contract(value, name, contract):
                problems.append(
                    f"{where} redefines the {contract.__name__} test without calling it"
                    f" (call super().{name}(...) to extend it)"
                )
            dropping = _marks(value) & _DROPPING_MARKS
            if dropping:
                problems.append(f"{where} is marked {', '.join(sorted(dropping))}")
    return problems


def audit_source(source: str, filename: str = "<source>") -> tuple[list[str], list[str]]:
    """Statically audit a test module: ``(implementing class names, problems)``.

    Finds classes whose bases name a contract (``StoreContract`` or
    ``flowbuilder_contracts.StoreContract``) and reports, without importing anything, the
    same drops as :func:`audit_implementation`: a contract test assigned in the class body,
    redefined without a call to ``super().<name>`` / ``<Contract>.<name>``, or decorated with
    ``skip``/``skipif``/``xfail``, and a class-level skip/xfail mark. Only direct subclasses
    are recognised; an indirect one is still caught at run time by its inherited audit test.
    """
    import ast

    tree = ast.parse(source, filename)
    classes: list[str] = []
    problems: list[str] = []

    def base_name(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            return node.attr
        return None

    def is_dropping_mark(node: ast.expr) -> bool:
        target = node.func if isinstance(node, ast.Call) else node
        return isinstance(target, ast.Attribute) and target.attr in _DROPPING_MARKS

    def calls_contract(function: ast.AST, name: str, contract: str) -> bool:
        for node in ast.walk(function):
            if isinstance(node, ast.Attribute) and node.attr == name:
                owner = node.value
                if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                    return True
                if base_name(owner) == contract:
                    return True
        return False

    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        contracts = [name for name in map(base_name, node.bases) if name in CONTRACT_TESTS]
        if not contracts:
            continue
        classes.append(node.name)
        where = f"{filename}:{node.lineno}: {node.name}"
        if any(is_dropping_mark(d) for d in node.decorator_list):
            problems.append(f"{where} is marked skip/xfail: that drops every contract test")
        for statement in node.body:
            if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets
            ):
                marks = (
                    statement.value.elts if isinstance(statement.value, (ast.List, ast.Tuple)) else [statement.value]
                )
                if any(is_dropping_mark(mark) for mark in marks):
                    problems.append(f"{where} sets a skip/xfail pytestmark: that drops every contract test")
        for contract in contracts:
            tests = set(CONTRACT_TESTS[contract])
            for statement in node.body:
                if isinstance(statement, (ast.Assign, ast.AnnAssign)):
                    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                    for target in targets:
                        if isinstance(target, ast.Name) and target.id in tests:
                            problems.append(
                                f"{filename}:{statement.lineno}: {node.name}.{target.id} replaces the {contract} test"
                            )
                elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name in tests:
                    name = statement.name
                    if not calls_contract(statement, name, contract):
                        problems.append(
                            f"{filename}:{statement.lineno}: {node.name}.{name} redefines the"
                            f" {contract} test without calling super().{name}(...)"
                        )
                    if any(is_dropping_mark(d) for d in statement.decorator_list):
                        problems.append(f"{filename}:{statement.lineno}: {node.name}.{name} is marked skip/xfail")
    return classes, problems
