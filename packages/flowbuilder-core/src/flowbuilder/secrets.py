"""Secrets: resolving ``${{ secrets.NAME }}`` and keeping their values out of everything stored or shown.

A run's :class:`SecretMasker` is built once, from the values of the secrets its workflow
uses and of its params declared ``secret: true``. It replaces each value, and the
encodings a value commonly travels in (base64 in its standard, URL-safe and unpadded
forms, URL-encoding, JSON and Python string escaping), by ``***`` in any text. Each line
of a multi-line value is masked on its own too, since logs arrive a line at a time.

Masking is text replacement: it cannot find a value that a task transformed in another
way (hashed, reversed, split, encrypted). Values shorter than :data:`MIN_SECRET_LENGTH`
are refused rather than masked, since masking ``"ab"`` everywhere would mangle every log
and still reveal little that guessing would not.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from flowbuilder.errors import ConfigurationError, FlowBuilderError, PluginError

if TYPE_CHECKING:
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost

MASK = "***"
MIN_SECRET_LENGTH = 4
SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _encodings(value: str) -> set[str]:
    import base64
    import json
    import urllib.parse

    raw = value.encode("utf-8", "surrogatepass")
    forms = {
        value,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }
    forms |= {form.rstrip("=") for form in forms}
    for line in value.splitlines():
        if len(line.strip()) >= MIN_SECRET_LENGTH:
            forms.add(line.strip())
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class SecretMasker:
    """Replaces secret values, and their common encodings, by ``***``.

    Build it with every value to hide; :meth:`mask` works on text, :meth:`mask_value` on any
    JSON-like value (strings inside dicts and lists, dict keys included). A masker with no
    values is falsy, so callers can skip it entirely when a run has no secrets.
    """

    __slots__ = ("_pattern",)

    def __init__(self, values: Iterable[str] = ()):
        forms: set[str] = set()
        for value in values:
            forms |= _encodings(value)
        # Longest first, so a value's longer encoding is replaced whole, not around a shorter one.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)

    def mask_value(self, value: Any) -> Any:
        """``value`` with every string in it masked; other values as they are."""
        if self._pattern is None:
            return value
        kind = type(value)
        if kind is str:
            return self.mask(value)
        if kind is dict:
            return {self.mask_value(key): self.mask_value(item) for key, item in value.items()}
        if kind is list or kind is tuple:
            return [self.mask_value(item) for item in value]
        return value


def check_secret_value(name: str, value: str, source: str) -> str:
    """``value`` if it can be masked reliably, else a one-line ConfigurationError (without the value)."""
    if not isinstance(value, str):
        raise ConfigurationError(f"secret {name!r} from {source} is not text")
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"secret {name!r} from {source} is shorter than {MIN_SECRET_LENGTH} characters,"
            " too short to mask in logs; use a longer value"
        )
    return value


def resolve_secrets(names: Iterable[str], providers: Sequence[Any]) -> dict[str, str]:
    """The value of each secret in ``names``, from the first provider that has it.

    Raises a one-line :class:`ConfigurationError` naming every missing secret and the
    providers asked, before any task runs. A provider whose ``get`` raises (a vault that
    cannot be reached) is a one-line :class:`PluginError` naming the provider and its module.
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in sorted(set(names)):
        if not SECRET_NAME.match(name):
            raise ConfigurationError(f"secret name {name!r} is not valid; use letters, digits and _")
        for provider in providers:
            try:
                value = provider.get(name)
            except FlowBuilderError:
                raise
            except Exception as error:  # a plugin's code: named, one line, exit 1 (not an internal error)
                reason = " ".join(f"{type(error).__name__}: {error}".split())
                raise PluginError(f"secret provider {provider.name!r} ({type(provider).__module__}) failed to look"
                                  f" up secret {name!r}: {reason}") from error  # fmt: skip
            if value is not None:
                found[name] = check_secret_value(name, value, f"the {provider.name} provider")
                break
        else:
            missing.append(name)
    if missing:
        asked = ", ".join(provider.name for provider in providers) or "none installed"
        hint = f"set FLOWBUILDER_SECRET_{missing[0]}" if any(p.name == "environment" for p in providers) else ""
        raise ConfigurationError(
            f"secret{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} not found"
            f" (providers asked: {asked}){'; ' + hint if hint else ''}"
        )
    return found


def masker_for(secrets: Mapping[str, str], secret_params: Iterable[Any] = ()) -> SecretMasker:
    """The masker of one run: its resolved secrets and the values of its secret params."""
    import json

    values = list(secrets.values())
    for value in secret_params:
        if isinstance(value, str):
            values.append(value)
        elif value is not None and not isinstance(value, bool):
            values.append(json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    return SecretMasker(values)


def resolve_run_secrets(plan: ExecutionPlan, host: PluginHost) -> dict[str, str]:
    """The secrets ``plan`` reads, from ``host``'s providers; ``{}`` without asking any when it reads none.

    Called by every entry point that starts or resumes a run, before the first task, so a
    missing secret stops the run before anything happens.
    """
    names = plan.secret_names
    return resolve_secrets(names, host.secret_providers()) if names else {}


def masked_params(workflow: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with the value of every ``secret: true`` param replaced by ``***`` (what is stored)."""
    declared = workflow.params
    return {name: MASK if name in declared and declared[name].secret else value for name, value in params.items()}


def secret_param_values(workflow: Any, params: Mapping[str, Any]) -> list[Any]:
    """The values of ``params`` whose declaration says ``secret: true``."""
    declared = workflow.params
    return [value for name, value in params.items() if name in declared and declared[name].secret]


__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "SECRET_NAME",
    "SecretMasker",
    "check_secret_value",
    "masked_params",
    "masker_for",
    "resolve_run_secrets",
    "resolve_secrets",
    "secret_param_values",
]
