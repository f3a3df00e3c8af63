"""The order the dispatch loop starts inline tasks in is the ready queue's, whichever way it takes them.

The loop takes a fan-out's batch end itself while the queue's heap is empty and asks the
queue otherwise; a task made ready in the middle of a batch (on the heap) must still start
before the batch's tasks that come after it in the queue's order.
"""

from __future__ import annotations

from flowrunner_helpers import run_text

from flowbuilder.events import EventKind
from flowbuilder.stores.memory import MemoryStore

NOOP = "config: {callable: 'flowrunner_sample_callables:noop'}"


def test_a_task_made_ready_inside_a_batch_starts_before_the_batch_tasks_behind_it() -> None:
    # root fans out to x1..x3 (leaves) and y; y -> z -> w is the longest path, so y starts
    # first; z, made ready while x1..x3 still wait in the batch, has the longer path ahead of
    # them and starts before them; w, made ready after z, ties with them and was queued last.
    text = f"""
name: order
concurrency: 1
tasks:
  - {{name: root, type: python, {NOOP}}}
  - {{name: x1, type: python, depends_on: [root], {NOOP}}}
  - {{name: x2, type: python, depends_on: [root], {NOOP}}}
  - {{name: x3, type: python, depends_on: [root], {NOOP}}}
  - {{name: y, type: python, depends_on: [root], {NOOP}}}
  - {{name: z, type: python, depends_on: [y], {NOOP}}}
  - {{name: w, type: python, depends_on: [z], {NOOP}}}
"""
    MemoryStore.forget("memory://dispatch-order")
    store = MemoryStore("memory://dispatch-order")
    result = run_text(text, store=store)
    assert result.succeeded
    started = [event.task for event in store.read_events(result.run_id) if event.kind is EventKind.TASK_STARTED]
    assert started == ["root", "y", "z", "x1", "x2", "x3", "w"]  # w: the same path as an x, queued later
