"""``http``: one HTTP request with httpx's async client.

The output is the response body — parsed JSON when the response says it is JSON (or
parses as such), else text — or, with ``response: full``, ``{"status", "headers", "body"}``.
A status outside ``expected_status`` fails the attempt with ``status`` set, so
``retry.retry_on: [status:503, status:5xx]`` can retry it; connection errors and timeouts
fail it too (``retry_on: [error]``/``[timeout]``).

Example (the seed workflow)::

    - name: fetch_data
      type: http
      config: {url: "http://127.0.0.1:8000/data", method: GET, timeout: 30}
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from flowbuilder.interfaces import ExecutionMode, TaskContext, TaskFailure, TaskType
from flowrunner.tasktypes._common import ConfigModel

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class HttpConfig(ConfigModel):
    """Config of an ``http`` task."""

    url: str = Field(description="http:// or https:// URL.")
    method: Method = Field("GET", description="HTTP method.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    query: dict[str, Any] = Field(default_factory=dict, description="Query parameters (lists repeat the key).")
    json_body: Any = Field(None, alias="json", description="A JSON request body.")
    body: str | None = Field(None, description="A raw (text) request body; not together with `json`.")
    timeout: float = Field(30.0, gt=0, description="Seconds for the request (connect, read, write each).")
    expected_status: list[int | str] = Field(
        default_factory=lambda: list[int | str](["2xx"]),
        description="Statuses that count as success: numbers or classes like '2xx'.",
    )
    follow_redirects: bool = Field(True, description="Follow 3xx redirects.")
    verify_tls: bool = Field(True, description="Check the server's TLS certificate.")
    response: Literal["body", "full"] = Field(
        "body", description="'body': the output is the body; 'full': status, headers and body."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, method: Any) -> Any:
        return method.upper() if isinstance(method, str) else method

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return url

    @field_validator("expected_status")
    @classmethod
    def _statuses(cls, statuses: list[int | str]) -> list[int | str]:
        for status in statuses:
            if isinstance(status, str) and not re.fullmatch(r"[1-5]xx|\d{3}", status):
                raise ValueError(f"unknown status {status!r}; use numbers like 200 or classes like '2xx'")
        return statuses

    @model_validator(mode="after")
    def _one_body(self) -> HttpConfig:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either `json` or `body`, not both")
        return self

    def accepts(self, status: int) -> bool:
        for expected in self.expected_status:
            if isinstance(expected, int) and expected == status:
                return True
            if isinstance(expected, str):
                if expected.endswith("xx") and status // 100 == int(expected[0]):
                    return True
                if expected.isdigit() and int(expected) == status:
                    return True
        return False


class HttpTask(TaskType):
    """One request per attempt on the runner's event loop."""

    name: ClassVar[str] = "http"
    config_model: ClassVar[type[HttpConfig]] = HttpConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.ASYNC
    summary: ClassVar[str] = "make an HTTP request; the parsed JSON (or text) body is the output"

    async def run(self, config: HttpConfig, context: TaskContext) -> Any:  # type: ignore[override]
        import httpx

        request_body: dict[str, Any] = {}
        if config.json_body is not None:
            request_body["json"] = config.json_body
        elif config.body is not None:
            request_body["content"] = config.body.encode()
        try:
            if config.url.startswith("http://"):
                # Plain HTTP needs no TLS context (building one loads the CA bundle: tens of ms).
                # Redirects are then followed by hand, through a verifying client.
                async with httpx.AsyncClient(timeout=config.timeout, follow_redirects=False, verify=False) as client:  # noqa: S501 (plain http: no TLS)
                    response = await client.request(config.method, config.url, headers=config.headers,
                                                    params=config.query or None, **request_body)  # fmt: skip
                if config.follow_redirects and response.is_redirect and response.next_request is not None:
                    async with httpx.AsyncClient(timeout=config.timeout, follow_redirects=True,
                                                 verify=config.verify_tls) as client:  # fmt: skip
                        response = await client.send(response.next_request)
            else:
                async with httpx.AsyncClient(timeout=config.timeout, follow_redirects=config.follow_redirects,
                                             verify=config.verify_tls) as client:  # fmt: skip
                    response = await client.request(config.method, config.url, headers=config.headers,
                                                    params=config.query or None, **request_body)  # fmt: skip
        except httpx.TimeoutException as error:
            raise TaskFailure(
                f"{config.method} {config.url}: timed out ({type(error).__name__})", timed_out=True
            ) from None
        except httpx.HTTPError as error:
            raise TaskFailure(f"{config.method} {config.url}: {type(error).__name__}: {error}") from None
        body = _body(response)
        context.log(
            "system", f"HTTP {response.status_code} {config.method} {config.url} ({len(response.content)} bytes)"
        )
        if not config.accepts(response.status_code):
            excerpt = response.text[:200].replace("\n", " ")
            raise TaskFailure(f"{config.method} {config.url} returned {response.status_code}: {excerpt}",
                              status=response.status_code, output=body)  # fmt: skip
        if config.response == "full":
            return {"status": response.status_code, "headers": dict(response.headers), "body": body}
        return body


def _body(response: Any) -> Any:
    text = response.text
    content_type = response.headers.get("content-type", "")
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text
