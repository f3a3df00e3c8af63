"""Run params' values never reach the audit log: only their names do.

A request that starts, retries or resumes a run carries its params (REST: the body's
``"params"`` object; gRPC: the ``params_json`` field). Some are ``secret: true`` params, and
which ones only the workflow says: the security layer records a request before, or without,
the workflow being read, and masking by field name (:func:`flowbuilder.audit.mask_secret_fields`)
misses a secret param named ``pin`` or ``db``. So every param value in an audit detail becomes
``***``; the run's own record keeps the values, with the secret ones masked by core.
"""

from __future__ import annotations

import json
import re

from flowbuilder.secrets import MASK

_REST_PARAMS = re.compile(r'"params"\s*:')
_GRPC_PARAMS = re.compile(r'(params_json:\s*)"(?:[^"\\]|\\.)*(?:"|\Z)', re.S)


def without_param_values(text: str) -> str:
    """``text`` (a request body as JSON, or a gRPC request in protobuf's text format) with the
    value of each param as ``***``. A body that is not whole JSON (cut short, or invalid) is
    cut just after its first ``"params":``, so no value of it is kept."""
    if "params" not in text:
        return text
    text = _GRPC_PARAMS.sub(lambda match: f'{match.group(1)}"{MASK}"', text)
    found = _REST_PARAMS.search(text)
    if found is None:
        return text
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit (the app refuses it)
        body = None
    if not isinstance(body, dict):
        return f"{text[: found.end()]} {MASK} (the rest is not shown: the body is not JSON)"
    if "params" in body:
        params = body["params"]
        body["params"] = {name: MASK for name in params} if isinstance(params, dict) else MASK
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


__all__ = ["without_param_values"]
