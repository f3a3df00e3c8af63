"""Hooks flowbuilder-ai declares (through ``flowbuilder_addhooks``) for other plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowbuilder import hookspec

if TYPE_CHECKING:
    from flowbuilder.annotations import Annotation


@hookspec
def flowbuilder_anomaly_alerts(run_id: str, annotation: Annotation) -> None:
    """An anomaly was found and stored as ``annotation`` on run ``run_id``: send it on.

    Called once per anomaly, from the scoring sink's own thread (never the runner's), after
    the annotation is stored. Implement it to page someone or post to a chat; an
    implementation that raises is reported on stderr and the others are still called.
    Outside flowbuilder-ai, mark it ``@hookimpl(optionalhook=True)``.

    Example::

        @hookimpl(optionalhook=True)
        def flowbuilder_anomaly_alerts(run_id, annotation):
            post(f"{run_id}: {annotation.task}: {annotation.payload['why']}")
    """
