"""flowui.workflow_catalog: numbered versions over core's claimed keys, race-free by construction."""

from __future__ import annotations

import uuid

from flowbuilder.stores.memory import MemoryStore
from flowui import workflow_catalog as catalog


def fresh_store() -> MemoryStore:
    """memory:// stores of one URL share their data: each test takes a URL of its own."""
    return MemoryStore(f"memory://catalog-{uuid.uuid4().hex}")


class RivalFirst(MemoryStore):
    """A store where another writer claims each version number just before this one does."""

    def __init__(self) -> None:
        super().__init__(f"memory://catalog-{uuid.uuid4().hex}")
        self.rivals = 0

    def claim_key(self, key: str, value: str) -> str:
        if key.startswith("flowui:workflow:hello:") and self.rivals < 1:
            self.rivals += 1
            super().claim_key(key, '{"hash":"rival","declared":"9","at":1.0}')
        return super().claim_key(key, value)


def test_a_number_taken_between_listing_and_claiming_moves_the_version_to_the_next() -> None:
    store = RivalFirst()
    version, created = catalog.store_version(store, "hello", b"name: hello\n", "1")
    assert created and version.number == 2
    assert [(v.number, v.definition_hash) for v in catalog.list_versions(store, "hello")] == [
        (1, "rival"),
        (2, version.definition_hash),
    ]


def test_the_same_text_as_the_newest_is_not_a_new_version() -> None:
    store = fresh_store()
    first, _ = catalog.store_version(store, "hello", b"a", "1")
    again, created = catalog.store_version(store, "hello", b"a", "1")
    assert (again, created) == (first, False)
    other, created = catalog.store_version(store, "hello", b"b", "1")
    assert (other.number, created) == (2, True)
    back, created = catalog.store_version(store, "hello", b"a", "1")  # an older text again: a new version
    assert (back.number, created) == (3, True)


def test_names_are_listed_once_in_the_order_first_stored() -> None:
    store = fresh_store()
    for name in ("b", "a", "b"):
        catalog.store_version(store, name, name.encode() * 3, "1")
    assert catalog.list_workflows(store) == ["b", "a"]
    assert catalog.get_version(store, "b").number == 1
    for missing in (lambda: catalog.get_version(store, "zzz"), lambda: catalog.get_version(store, "a", 5)):
        try:
            missing()
        except catalog.UnknownWorkflowError as error:
            assert "ListVersions" in str(error) or "store it first" in str(error)
        else:
            raise AssertionError("an unknown workflow or version must raise")
