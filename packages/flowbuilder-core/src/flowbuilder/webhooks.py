"""Webhook triggers: a delivery's JSON payload starts one run of a workflow with ``on: {webhook}``.

No HTTP endpoint exists yet: the UI package's server (issue 13) will serve webhooks by
calling :func:`fire_webhook`; until then ``flowbuilder trigger FILE --data JSON [--id ID]``
calls the same function (a manual or CI "webhook"). What a server must check before it
calls :func:`fire_webhook`:

1. a ``POST`` with a JSON object body of at most :data:`~flowbuilder.trigger_sources.MAX_PAYLOAD_BYTES`
   bytes (refuse larger bodies before reading them whole);
2. when the workflow's ``on.webhook.secret_env`` names a variable: that the variable is set
   and non-empty (else refuse: never accept unsigned deliveries for a signed hook), and that
   the header :data:`SIGNATURE_HEADER` equals ``sha256=`` + the hex HMAC-SHA256 of the *raw*
   body under that secret, compared in constant time (:func:`signature_matches`);
3. the delivery id from :data:`DELIVERY_HEADER` (a sender's retry repeats it), passed as
   ``delivery_id``: the run claims ``trigger:<workflow>:webhook:<delivery id>``, so a
   repeated delivery starts no second run and gets the first one's id back.

The payload becomes params, checked like ``--param`` values: every key must be a declared
param, types are converted and checked, and required params must be present.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import ConfigurationError, DuplicateRunError, FlowBuilderError

if TYPE_CHECKING:
    from flowbuilder.run_service import RunHandle, RunService, WorkflowInput

SIGNATURE_HEADER = "X-FlowBuilder-Signature"
"""The header holding ``sha256=<hex HMAC-SHA256 of the raw body>`` for a hook with ``secret_env``."""
DELIVERY_HEADER = "X-FlowBuilder-Delivery"
"""The header holding the delivery id (the idempotency of a delivery)."""


class DeliveryError(FlowBuilderError):
    """A webhook delivery was refused before any run started (bad id, payload or params)."""


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """What a delivery did: ``started`` a run (``handle`` follows it here) or found ``run_id`` already started."""

    delivery_id: str
    run_id: str
    started: bool
    handle: RunHandle | None = None


def signature(secret: bytes, body: bytes) -> str:
    """``sha256=<hex>``: what :data:`SIGNATURE_HEADER` holds for ``body`` signed with ``secret``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_matches(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the right signature of the raw ``body`` (constant-time comparison)."""
    if not secret or not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode(errors="replace"))


def webhook_key(workflow: str, delivery_id: str) -> str:
    """The idempotency key of the run a delivery starts (a trigger-source event key of source ``webhook``)."""
    from flowbuilder.trigger_sources import event_key

    return event_key(workflow, "webhook", delivery_id)


async def fire_webhook(service: RunService, workflow: WorkflowInput, payload: Any,
                       delivery_id: str | None = None) -> WebhookDelivery:  # fmt: skip
    """Start the run of one delivery through the run service, once per ``delivery_id``.

    ``workflow`` must have ``on: {webhook: ...}``; ``payload`` (a JSON object) becomes its
    params. Without ``delivery_id`` a new one is made (every call then starts a run).
    Returns at once after the start; ``result.handle.result()`` awaits the run. A delivery
    whose id already started a run returns that run with ``started=False``.

    Raises :class:`~flowbuilder.errors.ConfigurationError` for a workflow without a webhook
    trigger, :class:`DeliveryError` for a bad id or payload (including params the workflow
    refuses), and :class:`~flowbuilder.errors.WorkflowError` for an invalid workflow.
    """
    from flowbuilder.run_service import compile_workflow_input
    from flowbuilder.trigger_sources import event_problem

    compiled = compile_workflow_input(service.host, workflow)
    declared = compiled.plan.workflow
    if declared.on is None or declared.on.webhook is None:
        raise ConfigurationError(f"workflow {declared.name!r} has no webhook trigger; add `on: {{webhook: {{}}}}`"
                                 " to let deliveries start it")  # fmt: skip
    chosen = delivery_id if delivery_id is not None else uuid.uuid4().hex
    problem = event_problem(chosen, payload)
    if problem is not None:
        raise DeliveryError(f"delivery refused: {problem}")
    try:
        prepared = service.prepare(compiled, dict(payload), idempotency_key=webhook_key(declared.name, chosen))
    except FlowBuilderError as error:
        raise DeliveryError(f"delivery refused: {error}") from None
    try:
        handle = await service.submit(prepared)
    except DuplicateRunError as duplicate:
        return WebhookDelivery(chosen, duplicate.existing_run_id, started=False)
    return WebhookDelivery(chosen, handle.run_id, started=True, handle=handle)


__all__ = [
    "DELIVERY_HEADER",
    "DeliveryError",
    "SIGNATURE_HEADER",
    "WebhookDelivery",
    "fire_webhook",
    "signature",
    "signature_matches",
    "webhook_key",
]
