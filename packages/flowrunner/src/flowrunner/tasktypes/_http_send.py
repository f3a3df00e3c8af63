"""Sending an http task's request: each hop resolved, checked by the egress policy, pinned.

Redirects are followed here, not by httpx, so that every hop goes through the same check:
its host is resolved, every address is judged by every policy, and the request is sent to
the checked address (the URL's host becomes that address; ``Host`` and the TLS server name
keep the original name, so virtual hosts and certificate checks work as before). Across
hosts, ``Authorization``, ``Cookie`` and ``Proxy-Authorization`` are dropped, as browsers
and httpx do; a 303 (and a 301/302 answering a POST) continues as a GET without the body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence
from urllib.parse import urljoin, urlsplit, urlunsplit

from flowbuilder.interfaces import TaskFailure
from flowrunner.tasktypes._egress import IPAddress, resolve
from flowrunner.tasktypes._url_template import encode_segment

if TYPE_CHECKING:
    import httpx

    from flowrunner.tasktypes._egress import EgressPolicy
    from flowrunner.tasktypes.http import HttpConfig

MAX_REDIRECTS = 20
_CROSS_ORIGIN_DROPPED = ("authorization", "cookie", "proxy-authorization")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def first_url(config: HttpConfig) -> str:
    """The URL of the first request: ``url`` with the ``path`` segments and ``query`` added."""
    import httpx

    url = config.url
    if config.path:
        parts = urlsplit(url)
        path = parts.path.rstrip("/") + "/" + "/".join(encode_segment(segment) for segment in config.path)
        url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))
    if config.query:
        url = str(httpx.URL(url).copy_merge_params(config.query))
    return url


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


async def send_within_policy(
    config: HttpConfig, policies: Sequence[EgressPolicy], log: Callable[[str, str], None]
) -> tuple[httpx.Response, str]:
    """The final response and the URL it answered (after redirects, when followed)."""
    import httpx

    url = first_url(config)
    method: str = config.method
    headers = dict(config.headers)
    content: dict[str, Any] = {}
    if config.json_body is not None:
        content["json"] = config.json_body
    elif config.body is not None:
        content["content"] = config.body.encode()
    clients: dict[bool, httpx.AsyncClient] = {}
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            response = await _send_pinned(clients, config, policies, method, url, headers, content)
            location = response.headers.get("location")
            if not (config.follow_redirects and response.is_redirect and location):
                return response, url
            next_url = urljoin(url, location)
            if urlsplit(next_url).scheme.lower() not in ("http", "https"):
                raise TaskFailure(f"{method} {url}: redirected to {next_url!r}, which is not http(s)", retryable=False)
            if _origin(next_url) != _origin(url):
                headers = {k: v for k, v in headers.items() if k.lower() not in _CROSS_ORIGIN_DROPPED}
            if (response.status_code == 303 and method != "HEAD") or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, content = "GET", {}
                headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
            log("system", f"HTTP {response.status_code} redirect to {next_url}")
            url = next_url
        raise TaskFailure(f"{config.method} {config.url}: more than {MAX_REDIRECTS} redirects", retryable=False)
    except httpx.TimeoutException as error:
        raise TaskFailure(f"{method} {url}: timed out ({type(error).__name__})", timed_out=True) from None
    except httpx.HTTPError as error:
        raise TaskFailure(f"{method} {url}: {type(error).__name__}: {error}") from None
    finally:
        for client in clients.values():
            await client.aclose()


async def _send_pinned(
    clients: dict[bool, httpx.AsyncClient],
    config: HttpConfig,
    policies: Sequence[EgressPolicy],
    method: str,
    url: str,
    headers: dict[str, str],
    content: dict[str, Any],
) -> httpx.Response:
    """One request to ``url``, sent to an address of its host that every policy permits."""
    import httpx

    target = httpx.URL(url)
    host = target.host
    addresses = await _addresses(method, url, host, target.port or _DEFAULT_PORTS[target.scheme])
    for address in addresses:
        for policy in policies:
            reason = policy.refusal(host, address)
            if reason is not None:
                raise TaskFailure(f"{method} {url}: refused by the egress policy: {reason}", retryable=False)
    secure = target.scheme == "https"
    client = clients.get(secure)
    if client is None:
        # Plain HTTP needs no TLS context (building one loads the CA bundle: tens of ms).
        verify = config.verify_tls if secure else False
        client = clients[secure] = httpx.AsyncClient(timeout=config.timeout, follow_redirects=False, verify=verify)
    sent_headers = headers if any(k.lower() == "host" for k in headers) else {**headers, "Host": _host_header(target)}
    extensions = {"sni_hostname": host} if secure else {}
    last_error: httpx.ConnectError | None = None
    for address in addresses:
        try:
            pinned = target.copy_with(host=str(address))
            request = client.build_request(method, pinned, headers=sent_headers, extensions=extensions, **content)
            streamed = await client.send(request, stream=True)
            return await _read_capped(streamed, config.max_response_bytes, method, url)
        except httpx.ConnectError as error:
            last_error = error
    assert last_error is not None
    raise last_error


async def _addresses(method: str, url: str, host: str, port: int) -> list[IPAddress]:
    import socket

    try:
        addresses = await resolve(host, port)
    except (socket.gaierror, UnicodeError) as error:
        raise TaskFailure(f"{method} {url}: cannot resolve {host!r}: {error}") from None
    if not addresses:
        raise TaskFailure(f"{method} {url}: {host!r} resolves to no address")
    return addresses


def _host_header(target: httpx.URL) -> str:
    host = target.raw_host.decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    default = _DEFAULT_PORTS.get(target.scheme)
    return host if target.port is None or target.port == default else f"{host}:{target.port}"


async def _read_capped(response: httpx.Response, limit: int, method: str, url: str) -> httpx.Response:
    """``response`` with its body read, refusing a body over ``limit`` bytes before it is all read.

    A declared ``Content-Length`` over the limit fails at once; otherwise the (decoded) body
    is read in chunks and the request fails as soon as it passes the limit, so a huge or
    endless response never sits in memory whole.
    """
    import httpx

    try:
        declared = int(response.headers.get("content-length", "-1"))
        if declared > limit:
            raise TaskFailure(
                f"{method} {url}: the response body is {declared} bytes, over max_response_bytes={limit};"
                " raise the limit, or download large files with a shell task (curl -o FILE)",
                retryable=False,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise TaskFailure(
                    f"{method} {url}: the response body passed max_response_bytes={limit} bytes and was not"
                    " read further; raise the limit, or download large files with a shell task (curl -o FILE)",
                    retryable=False,
                )
            chunks.append(chunk)
    finally:
        await response.aclose()
    # The body is decoded already: the copy must not claim an encoding or a length it lacks.
    headers = [
        (k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=b"".join(chunks), request=response.request,
        extensions=response.extensions,
    )  # fmt: skip
