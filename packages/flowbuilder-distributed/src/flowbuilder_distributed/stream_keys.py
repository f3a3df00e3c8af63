"""Where remote workers and executors meet in Redis: the names of every key, stream and channel.

One place for the layout, so a worker and an executor of the same version always agree, and
an operator can find things (``redis-cli XINFO STREAM flowbuilder:workers:default:queue:-``).

* ``{prefix}:workers:{group}:queue:{labels}``: attempts for workers of ``group`` that have
  every label in ``labels`` (sorted, comma-joined; ``-`` for none). Consumer group
  :data:`CONSUMER_GROUP`; each worker is a consumer named by its node id.
* ``{prefix}:workers:{group}:queues``: a set of the label sets that have a queue, so a worker
  finds the queues it may read (those whose labels it all has).
* ``{prefix}:workers:{group}:dead``: dead-lettered attempts (delivered too often, unreadable).
* ``{prefix}:workers:results:{executor}``: results for one executor (one scheduler process).
* ``{prefix}:workers:cancel`` (pub/sub) and ``{prefix}:workers:cancelled:{attempt}``: cancels.
* ``{prefix}:workers:done:{attempt}``: set when a worker posted an attempt's result, so a
  reclaimed copy of a finished attempt is acknowledged instead of run again.
"""

from __future__ import annotations

from typing import Iterable

DEFAULT_PREFIX = "flowbuilder"
DEFAULT_GROUP = "default"
CONSUMER_GROUP = "workers"
"""The Redis consumer group every queue stream has; workers are its consumers."""
NO_LABELS = "-"


def label_set(labels: Iterable[str]) -> str:
    """The queue suffix of a set of labels: sorted, comma-joined, ``-`` for none."""
    names = sorted(set(labels))
    return ",".join(names) if names else NO_LABELS


def labels_of(label_key: str) -> frozenset[str]:
    """The labels a queue suffix stands for (inverse of :func:`label_set`)."""
    return frozenset() if label_key == NO_LABELS else frozenset(label_key.split(","))


class StreamKeys:
    """The key names under one prefix (tests use their own prefix per test)."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str = DEFAULT_PREFIX):
        self.prefix = prefix

    def queue(self, group: str, labels: str) -> str:
        return f"{self.prefix}:workers:{group}:queue:{labels}"

    def queues(self, group: str) -> str:
        return f"{self.prefix}:workers:{group}:queues"

    def dead_letters(self, group: str) -> str:
        return f"{self.prefix}:workers:{group}:dead"

    def results(self, executor_id: str) -> str:
        return f"{self.prefix}:workers:results:{executor_id}"

    def executor_alive(self, executor_id: str) -> str:
        """A key an executor writes when it starts: gone after a restart, Redis lost its data."""
        return f"{self.prefix}:workers:executor:{executor_id}"

    def cancel_channel(self) -> str:
        return f"{self.prefix}:workers:cancel"

    def cancelled(self, attempt_id: str) -> str:
        return f"{self.prefix}:workers:cancelled:{attempt_id}"

    def done(self, attempt_id: str) -> str:
        return f"{self.prefix}:workers:done:{attempt_id}"

    def nodes(self) -> str:
        return f"{self.prefix}:nodes"

    def node(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"


__all__ = ["CONSUMER_GROUP", "DEFAULT_GROUP", "DEFAULT_PREFIX", "StreamKeys", "label_set", "labels_of"]
