"""What a parent and its child runs agree on: the task's config, the link, the folded history."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flowbuilder.events import EventKind, RunEvent, RunState, fold_events
from flowbuilder.subworkflows import CHILD_RUN_KEY, ParentLink, SubworkflowConfig

HASH = "ab" * 32


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "give either `path`"),
        ({"path": "a.yaml", "definition": "a", "version": HASH}, "give either `path`"),
        ({"definition": "a"}, "needs its `version`"),
        ({"definition": "a", "version": "123"}, "is not a definition hash"),
        ({"path": "a.yaml", "version": HASH}, "`version` pins a stored `definition`"),
        ({"path": "  "}, "`path` is empty"),
        ({"path": "a.yaml", "colour": 1}, "Extra inputs are not permitted"),
    ],
)
def test_a_workflow_config_names_one_child_exactly(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SubworkflowConfig.model_validate(config)


def test_a_workflow_config_takes_a_path_or_a_pinned_definition() -> None:
    assert SubworkflowConfig.model_validate({"path": "a.yaml", "params": {"n": 1}}).params == {"n": 1}
    assert SubworkflowConfig.model_validate({"definition": "a", "version": HASH}).version == HASH


def test_the_parent_link_round_trips_and_ignores_what_is_no_link() -> None:
    link = ParentLink("p1", "sub", 2, 3)
    assert ParentLink.from_data(link.as_data()) == link
    assert ParentLink.from_data(None) is None and ParentLink.from_data({"task": "x"}) is None


def _event(seq: int, kind: EventKind, task: str | None = None, attempt: int = 0, **data: object) -> RunEvent:
    return RunEvent("r", seq, kind, task, attempt, data)


def test_the_fold_keeps_the_parent_the_pins_and_each_tasks_newest_child() -> None:
    pins = {"sub": {"path": "/w/c.yaml", "definition": HASH, "subworkflows": {}}}
    events = [
        _event(1, EventKind.RUN_CREATED, workflow="w", params={}, subworkflows=pins),
        _event(2, EventKind.RUN_STARTED, runner="local", resumed=False, parent={"run_id": "p", "task": "t"}),
        _event(3, EventKind.TASK_STARTED, "sub", 1),
        _event(4, EventKind.TASK_ANNOTATED, "sub", 1, **{CHILD_RUN_KEY: "c1"}),
        _event(5, EventKind.TASK_RETRYING, "sub", 1, error="x"),
        _event(6, EventKind.TASK_STARTED, "sub", 2),
        _event(7, EventKind.TASK_ANNOTATED, "sub", 2, **{CHILD_RUN_KEY: "c2"}),
        _event(8, EventKind.TASK_ANNOTATED, "sub", 2, score=0.9),  # another note: not a link
    ]
    state = fold_events("r", events)
    assert state.parent == {"run_id": "p", "task": "t"} and state.subworkflows == pins
    assert state.children == {"sub": {"run_id": "c2", "attempt": 2}}
    again = RunState.from_dict(state.to_dict())
    assert (again.parent, again.subworkflows, again.children) == (state.parent, state.subworkflows, state.children)


def test_a_snapshot_written_before_sub_workflows_reads_as_having_none() -> None:
    old = {"run_id": "r", "seq": 1, "status": "running", "tasks": {}}
    state = RunState.from_dict(old)
    assert state.parent is None and state.subworkflows == {} and state.children == {}
