"""Which role a call needs: the REST and gRPC tables are passed in, never imported.

A REST policy is either a mapping from ``(METHOD, "/path/{template}")`` (or the text
``"METHOD /path/{template}"``) to a role name (``viewer``, ``operator``, ``admin``) or a
:class:`~flowbuilder.interfaces.authenticator.Role`, or a callable ``(method, path) ->
role | None`` of your own. A gRPC policy maps a full method name (``/pkg.Service/Method``)
or its last part (``Method``) to a role, or is a callable ``(full_method) -> role | None``.

``HEAD`` is looked up as ``GET``. Templates use ``{name}`` for one path segment and ``{name:path}`` for the rest of the path.
A literal template wins over one with parameters, and fewer parameters win over more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, TypeAlias

from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.authenticator import Role

RoleLike: TypeAlias = Role | str
HttpRolePolicy: TypeAlias = (
    Mapping[tuple[str, str], RoleLike] | Mapping[str, RoleLike] | Callable[[str, str], RoleLike | None]
)
GrpcRolePolicy: TypeAlias = Mapping[str, RoleLike] | Callable[[str], RoleLike | None]
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")


@dataclass(frozen=True, slots=True)
class Match:
    """What a request matched: the role it needs, the template (None: no entry), its parameters."""

    role: Role | None
    template: str | None
    parameters: dict[str, str]


def _role(value: RoleLike | None, where: str) -> Role | None:
    if value is None or isinstance(value, Role):
        return value
    return Role.parse(value, where)


def _compile(template: str) -> re.Pattern[str]:
    pattern, position = "", 0
    for found in _PARAMETER.finditer(template):
        pattern += re.escape(template[position : found.start()])
        pattern += f"(?P<{found.group(1)}>.+)" if found.group(2) else f"(?P<{found.group(1)}>[^/]+)"
        position = found.end()
    return re.compile(pattern + re.escape(template[position:]) + r"\Z")


def http_role_lookup(policy: HttpRolePolicy) -> Callable[[str, str], Match]:
    """A function ``(method, path) -> Match`` for ``policy`` (entries checked once, here)."""
    if callable(policy):
        call = policy

        def ask(method: str, path: str) -> Match:
            return Match(_role(call(method, path), f"role policy for {method} {path}"), None, {})

        return ask
    entries: list[tuple[int, int, str, str, re.Pattern[str], Role]] = []
    for key, value in policy.items():
        if isinstance(key, tuple):
            method, template = key
        else:
            method, _, template = str(key).partition(" ")
        if not template.startswith("/"):
            raise ConfigurationError(f"role policy entry {key!r}: use (METHOD, '/path') or 'METHOD /path'")
        role = _role(value, f"role policy entry {key!r}")
        assert role is not None
        parameters = len(_PARAMETER.findall(template))
        entries.append((parameters, -len(template), method.upper(), template, _compile(template), role))
    entries.sort(key=lambda entry: (entry[0], entry[1]))

    def look_up(method: str, path: str) -> Match:
        method = "GET" if method == "HEAD" else method  # a HEAD is a GET without the body
        for _, _, wanted, template, pattern, role in entries:
            if wanted == method:
                found = pattern.match(path)
                if found is not None:
                    return Match(role, template, found.groupdict())
        return Match(None, None, {})

    return look_up


def grpc_role_lookup(policy: GrpcRolePolicy) -> Callable[[str], Role | None]:
    """A function ``(full_method) -> role | None`` for ``policy``."""
    if callable(policy):
        call = policy
        return lambda method: _role(call(method), f"gRPC role policy for {method}")
    table = {str(name): _role(value, f"gRPC role policy entry {name!r}") for name, value in policy.items()}

    def look_up(method: str) -> Role | None:
        return table.get(method, table.get(method.rsplit("/", 1)[-1]))

    return look_up


__all__ = ["GrpcRolePolicy", "HttpRolePolicy", "Match", "grpc_role_lookup", "http_role_lookup"]
