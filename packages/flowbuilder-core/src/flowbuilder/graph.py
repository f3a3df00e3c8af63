"""Graph algorithms on dense integer ids, the compiler's inner loop.

Kept free of models and names so they are fast (flat lists, no dict lookups per edge) and
easy to test with random graphs. Cycle paths come from :mod:`graphlib` — the standard
library already finds and reports them — run only on the part of the graph that Kahn's
algorithm could not order, so an acyclic graph never pays for it.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True, slots=True)
class Ordering:
    """The result of ordering an acyclic graph."""

    order: list[int]
    level_of: list[int]
    levels: list[list[int]]


def topological_levels(successors: Sequence[Sequence[int]], indegree: Sequence[int]) -> Ordering | list[int]:
    """Order the graph with Kahn's algorithm, grouping ids by longest distance from a root.

    Returns an :class:`Ordering`, or the ids left unordered (every one of them is on or behind
    a cycle) when the graph has a cycle.
    """
    count = len(successors)
    remaining = list(indegree)
    level_of = [0] * count
    frontier = [node for node in range(count) if remaining[node] == 0]
    order: list[int] = []
    levels: list[list[int]] = []
    while frontier:
        levels.append(frontier)
        order.extend(frontier)
        next_frontier: list[int] = []
        depth = len(levels)
        for node in frontier:
            for successor in successors[node]:
                remaining[successor] -= 1
                if remaining[successor] == 0:
                    level_of[successor] = depth
                    next_frontier.append(successor)
        frontier = next_frontier
    if len(order) != count:
        return [node for node in range(count) if remaining[node] > 0]
    return Ordering(order=order, level_of=level_of, levels=levels)


def find_cycles(predecessors: Sequence[Sequence[int]], candidates: Sequence[int]) -> list[list[int]]:
    """One cycle per strongly connected tangle among ``candidates``, each as a closed path.

    A path ``[a, b, c, a]`` means a depends on b, b on c, and c on a (``b`` is in
    ``predecessors[a]``); it starts at its smallest id, so the report is stable and points at
    the cycle's first task in the file. Cycles are found one at a time: after reporting one,
    its nodes are removed and the rest is searched again, so independent cycles are all
    reported.
    """
    pending = set(candidates)
    cycles: list[list[int]] = []
    while pending:
        sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
        for node in pending:
            sorter.add(node, *(p for p in predecessors[node] if p in pending))
        try:
            sorter.prepare()
        except graphlib.CycleError as error:
            # graphlib lists each node before the ones that need it; reverse to "depends on".
            found = list(reversed(error.args[1]))[:-1]
            start = found.index(min(found))
            cycle = found[start:] + found[:start]
            cycle.append(cycle[0])
            cycles.append(cycle)
            pending.difference_update(cycle)
            continue
        break
    return cycles


def longest_remaining_paths(
    order: Sequence[int], successors: Sequence[Sequence[int]], cost: Sequence[float]
) -> tuple[list[float], list[int]]:
    """For each id, the largest total cost of a path from it to a sink (itself included).

    Returns the costs and, per id, the successor on that longest path (-1 for a sink), from
    which the critical path is read by following the links from the best root.
    """
    count = len(order)
    remaining = [0.0] * count
    next_on_path = [-1] * count
    for node in reversed(order):
        best = 0.0
        best_next = -1
        for successor in successors[node]:
            if remaining[successor] > best:
                best = remaining[successor]
                best_next = successor
        remaining[node] = cost[node] + best
        next_on_path[node] = best_next
    return remaining, next_on_path


def critical_path(roots: Sequence[int], remaining: Sequence[float], next_on_path: Sequence[int]) -> list[int]:
    """The longest path, starting at the root with the largest remaining cost."""
    if not roots:
        return []
    node = max(roots, key=lambda root: remaining[root])
    path = [node]
    while next_on_path[node] != -1:
        node = next_on_path[node]
        path.append(node)
    return path


__all__ = [
    "Ordering",
    "critical_path",
    "find_cycles",
    "longest_remaining_paths",
    "topological_levels",
]
