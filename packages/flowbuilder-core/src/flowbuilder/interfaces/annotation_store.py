"""The annotations role of a store: notes beside a run's events that never conflict with them.

Anomaly scores, operator notes and audit entries are written by many writers while the
runner appends events; keeping them in a key space of their own means no writer ever gets a
:class:`~flowbuilder.errors.SequenceConflictError` because of another. A component that only
adds or reads annotations (an anomaly scorer) types against :class:`AnnotationStore`.
"""

from __future__ import annotations

from abc import ABC
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # every store imports this role; a run never annotates
    from flowbuilder.annotations import Annotation


class AnnotationStore(ABC):
    """Annotations of runs: :meth:`annotate` and :meth:`read_annotations`.

    Both have defaults so that a store written before annotations existed keeps working: it
    keeps none, and says so when asked to add one.
    """

    scheme: ClassVar[str]

    def annotate(self, run_id: str, annotation: Annotation) -> Annotation:
        """Attach ``annotation`` to the run (live or finished); return it with its ``number``.

        Never conflicts with the run's event appends. :class:`~flowbuilder.errors.RunNotFoundError`
        for an unknown run; :class:`~flowbuilder.errors.StoreError` for an annotation that
        :func:`~flowbuilder.annotations.encode_annotation` refuses (bad kind, not JSON, over
        :data:`~flowbuilder.annotations.MAX_ANNOTATION_BYTES`). The default refuses: the store
        keeps no annotations.
        """
        from flowbuilder.errors import StoreError

        raise StoreError(f"the {self.scheme}:// store does not keep annotations (its plugin predates them);"
                         " upgrade the plugin or use another store")  # fmt: skip

    def read_annotations(self, run_id: str, after: int = 0) -> list[Annotation]:
        """The run's annotations numbered above ``after``, in number order (empty if none or unknown run)."""
        return []


__all__ = ["AnnotationStore"]
