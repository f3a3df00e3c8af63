"""Rendering a plan's graph as Mermaid, Graphviz DOT or indented text."""

from __future__ import annotations

import json

from flowbuilder.plan import ExecutionPlan


def _mermaid_id(task_id: int) -> str:
    return f"t{task_id}"


def render_graph(plan: ExecutionPlan, output_format: str) -> str:
    """The graph in ``mermaid``, ``dot`` or ``text`` form; edges point from a task to what needs it."""
    names = plan.names
    if output_format == "mermaid":
        lines = ["flowchart TD"]
        for task_id, name in enumerate(names):
            label = f"{name} ({plan.task(task_id).type})".replace('"', "'")
            lines.append(f'    {_mermaid_id(task_id)}["{label}"]')
        for task_id, successors in enumerate(plan.successors):
            for successor in successors:
                lines.append(f"    {_mermaid_id(task_id)} --> {_mermaid_id(successor)}")
        return "\n".join(lines)
    if output_format == "dot":
        lines = [f"digraph {json.dumps(plan.workflow.name)} {{", "    rankdir=LR;"]
        for task_id, name in enumerate(names):
            label = json.dumps(f"{name}\n{plan.task(task_id).type}")  # no backslash inside an f-string on 3.11
            lines.append(f"    {json.dumps(name)} [label={label}];")
        for task_id, successors in enumerate(plan.successors):
            for successor in successors:
                lines.append(f"    {json.dumps(names[task_id])} -> {json.dumps(names[successor])};")
        lines.append("}")
        return "\n".join(lines)
    if output_format == "text":
        lines = []
        for number, level in enumerate(plan.levels):
            lines.append(f"level {number}:")
            for task_id in level:
                needs = ", ".join(names[p] for p in plan.predecessors[task_id])
                lines.append(f"  {names[task_id]} [{plan.task(task_id).type}]" + (f" <- {needs}" if needs else ""))
        return "\n".join(lines)
    raise ValueError(f"unknown graph format {output_format!r}")
