"""flowbuilder-ai: anomaly scoring of finished tasks against their own history.

* :mod:`flowbuilder_ai.history` — task attempts of stored runs as a Polars frame.
* :mod:`flowbuilder_ai.features` — per-task features relative to that task's history.
* :mod:`flowbuilder_ai.scoring` — the shipped ONNX model, scored with onnxruntime.
* :mod:`flowbuilder_ai.sink` — live scoring as an event sink (``[ai] scoring = true``).
* :mod:`flowbuilder_ai.advisor` — ``flowbuilder advise``: changes to a workflow, with evidence.
* :mod:`flowbuilder_ai.results` — input and output digests of stored executions (cache candidates).

Importing this package imports neither Polars nor onnxruntime: the modules above do, when used.
"""

from flowbuilder_ai._version import __version__

__all__ = ["__version__"]
