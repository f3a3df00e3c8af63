"""Where an http task may connect: the egress policy, checked on resolved addresses.

A task that can call any address can read the machine's own services and the cloud
metadata endpoint (169.254.169.254 hands out credentials). So every request — the first
and each redirect — resolves its host here, checks every address the name resolves to,
and is then sent to the address that was checked (never re-resolved by the HTTP client:
a name that resolves differently a second time cannot slip past the check).

One policy decides, in this order:

1. ``deny`` — a listed network (CIDR or address) or host name (``*.example.com`` matches
   subdomains) is refused;
2. ``allow`` networks — an address inside a listed network is permitted, even inside the
   ranges below (naming an address is explicit; a listed *host name* does not lift them,
   since a name can be pointed anywhere);
3. ranges — link-local and cloud-metadata addresses (:data:`LINK_LOCAL_AND_METADATA`) are
   refused unless ``deny_link_local`` is false; private and loopback addresses
   (:data:`PRIVATE`) when ``deny_private`` is true;
4. ``allow`` host names — a listed name is permitted;
5. ``default`` — ``allow`` (the default) or ``deny``.

The global policy comes from the ``[http]`` table of ``flowbuilder.toml`` (or
``FLOWBUILDER_HTTP__<KEY>`` variables); a task's ``egress`` config is a second policy that
must permit the request too, so a workflow can narrow what the operator allows, never widen it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LINK_LOCAL_AND_METADATA: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(text)
    for text in (
        "169.254.0.0/16",  # link-local; AWS, GCP, Azure, OpenStack metadata at 169.254.169.254
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure wire server
    )
)
PRIVATE: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(text)
    for text in (
        "127.0.0.0/8",  # loopback: the machine's own services
        "0.0.0.0/8",  # "this host" (0.0.0.0 connects to the loopback on Linux)
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",  # carrier-grade NAT, used inside clouds
        "::1/128",
        "::/128",
        "fc00::/7",  # unique local
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_FALSE = ("false", "0", "no", "off")


class EgressConfigError(ValueError):
    """A policy entry or option is not understood."""


def _as_names(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    raise EgressConfigError(f"`{key}` must be a list of networks or host names, got {value!r}")


def _as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in (*_FALSE, "true", "1", "yes", "on"):
        return value.strip().lower() not in _FALSE
    raise EgressConfigError(f"`{key}` must be true or false, got {value!r}")


def split_entries(entries: Iterable[str], key: str) -> tuple[tuple[IPNetwork, ...], tuple[str, ...]]:
    """Networks (``10.0.0.0/8``, ``::1``) and host-name patterns (``api.example.com``,
    ``*.example.com``) of one list; :class:`EgressConfigError` for anything else."""
    networks: list[IPNetwork] = []
    hosts: list[str] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry.lower().rstrip(".")
        bare = name[2:] if name.startswith("*.") else name
        if not bare or not all(label and label.replace("-", "").isalnum() for label in bare.split(".")):
            raise EgressConfigError(
                f"`{key}`: {entry!r} is neither a network (10.0.0.0/8, ::1) nor a host name (*.example.com)"
            )
        hosts.append(name)
    return tuple(networks), tuple(hosts)


def _host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host.endswith(pattern[1:]) if pattern.startswith("*.") else host == pattern for pattern in patterns)


def effective_addresses(address: IPAddress) -> tuple[IPAddress, ...]:
    """The address and any IPv4 address it carries (mapped, 6to4, NAT64), so that
    ``::ffff:169.254.169.254`` is judged as 169.254.169.254."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return tuple(found)


def _inside(address: IPAddress, networks: Iterable[IPNetwork]) -> IPNetwork | None:
    for candidate in effective_addresses(address):
        for network in networks:
            if candidate.version == network.version and candidate in network:
                return network
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """One allow/deny policy (see the module docstring for the order of the rules)."""

    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    deny_networks: tuple[IPNetwork, ...] = ()
    deny_hosts: tuple[str, ...] = ()
    deny_private: bool = False
    deny_link_local: bool = True
    default_allow: bool = True

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], where: str) -> EgressPolicy:
        """A policy from a settings table (``[http]``) or a task's ``egress`` config."""
        known = {"allow", "deny", "deny_private", "deny_link_local", "default"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise EgressConfigError(f"{where}: unknown option {unknown[0]!r} (known: {', '.join(sorted(known))})")
        default = str(options.get("default", "allow")).strip().lower()
        if default not in ("allow", "deny"):
            raise EgressConfigError(f"{where}: `default` must be 'allow' or 'deny', got {options['default']!r}")
        try:
            allow_networks, allow_hosts = split_entries(_as_names(options.get("allow"), "allow"), "allow")
            deny_networks, deny_hosts = split_entries(_as_names(options.get("deny"), "deny"), "deny")
            return cls(
                allow_networks=allow_networks,
                allow_hosts=allow_hosts,
                deny_networks=deny_networks,
                deny_hosts=deny_hosts,
                deny_private=_as_bool(options.get("deny_private", False), "deny_private"),
                deny_link_local=_as_bool(options.get("deny_link_local", True), "deny_link_local"),
                default_allow=default == "allow",
            )
        except EgressConfigError as error:
            raise EgressConfigError(f"{where}: {error}") from None

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """None when a connection to ``address`` (for the URL's ``host``) is permitted, else why not."""
        if _host_matches(host, self.deny_hosts):
            return f"host {host} is in `deny`"
        denied = _inside(address, self.deny_networks)
        if denied is not None:
            return f"{address} is inside {denied}, which is in `deny`"
        if _inside(address, self.allow_networks) is not None:
            return None
        if self.deny_link_local:
            metadata = _inside(address, LINK_LOCAL_AND_METADATA)
            if metadata is not None:
                return f"{address} is a link-local or cloud-metadata address ({metadata})"
        if self.deny_private:
            private = _inside(address, PRIVATE)
            if private is not None:
                return f"{address} is a private or loopback address ({private}) and `deny_private` is on"
        if _host_matches(host, self.allow_hosts) or self.default_allow:
            return None
        return f"neither {host} nor {address} is in `allow`, and `default` is 'deny'"


DEFAULT_POLICY = EgressPolicy()


def literal_address(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (``127.0.0.1``, ``::1``), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order (a literal is itself)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    import asyncio

    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonical, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses
