"""``http``: one HTTP request with httpx's async client.

The output is the response body — parsed JSON when the response says it is JSON (or
parses as such), else text — or, with ``response: full``, ``{"status", "headers", "body"}``.
A status outside ``expected_status`` fails the attempt with ``status`` set, so
``retry.retry_on: [status:503, status:5xx]`` can retry it; connection errors and timeouts
fail it too (``retry_on: [error]``/``[timeout]``).

Values from expressions cannot reshape the request: in ``url`` each value is encoded for
the part of the URL it lands in (see :mod:`flowrunner.tasktypes._url_template`), ``path``
segments and ``query`` entries are encoded one by one, and header names and values are
checked. Where the request may go is decided by the egress policy
(:mod:`flowrunner.tasktypes._egress`), on every address and every redirect.

Example (the seed workflow)::

    - name: fetch_data
      type: http
      config: {url: "http://127.0.0.1:8000/data", method: GET, timeout: 30}
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Mapping

from pydantic import Field, field_validator, model_validator

from flowbuilder.interfaces import ExecutionMode, TaskContext, TaskFailure, TaskType
from flowrunner.tasktypes._common import ConfigModel
from flowrunner.tasktypes._egress import DEFAULT_POLICY, EgressConfigError, EgressPolicy, split_entries

if TYPE_CHECKING:
    from flowbuilder.config import Settings

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def header_problem(name: str, value: str) -> str | None:
    """Why ``name: value`` cannot be sent as a header (None when it can): a name must be an
    HTTP token and a value must hold no line break, or one header could smuggle in others."""
    if not _HEADER_NAME.fullmatch(name):
        return f"header name {name!r} is not a valid HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
    if any(char in value for char in "\r\n\0"):
        return f"header {name!r}: the value holds a line break or NUL"
    return None


class EgressRules(ConfigModel):
    """A task's own egress policy: applied on top of the global one, so it can only narrow it."""

    allow: list[str] = Field(default_factory=list, description="Networks (CIDR) or host names (*.example.com).")
    deny: list[str] = Field(default_factory=list, description="Networks (CIDR) or host names that are refused.")
    deny_private: bool = Field(False, description="Refuse private and loopback addresses (10/8, 127/8, fc00::/7...).")
    default: Literal["allow", "deny"] = Field("allow", description="What happens to a destination no rule names.")

    @field_validator("allow", "deny")
    @classmethod
    def _entries(cls, entries: list[str]) -> list[str]:
        try:
            split_entries(entries, "entry")
        except EgressConfigError as error:
            raise ValueError(str(error).removeprefix("`entry`: ")) from None
        return entries

    def policy(self) -> EgressPolicy:
        return EgressPolicy.from_mapping(self.model_dump(), "egress")


DEFAULT_MAX_RESPONSE_BYTES = 16 << 20
"""The default cap on a response body: the default ``max_output_bytes`` of a task's output."""


class HttpConfig(ConfigModel):
    """Config of an ``http`` task."""

    url: str = Field(description="http:// or https:// URL; expression values are encoded for where they land.")
    method: Method = Field("GET", description="HTTP method.")
    path: list[str] = Field(
        default_factory=list, description="Path segments appended to the URL's path, each percent-encoded."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    query: dict[str, Any] = Field(default_factory=dict, description="Query parameters (lists repeat the key).")
    json_body: Any = Field(None, alias="json", description="A JSON request body.")
    body: str | None = Field(None, description="A raw (text) request body; not together with `json`.")
    timeout: float = Field(30.0, gt=0, description="Seconds for the request (connect, read, write each).")
    expected_status: list[int | str] = Field(
        default_factory=lambda: list[int | str](["2xx"]),
        description="Statuses that count as success: numbers or classes like '2xx'.",
    )
    follow_redirects: bool = Field(True, description="Follow 3xx redirects (each one checked by the egress policy).")
    verify_tls: bool = Field(True, description="Check the server's TLS certificate.")
    response: Literal["body", "full"] = Field(
        "body", description="'body': the output is the body; 'full': status, headers and body."
    )
    egress: EgressRules | None = Field(None, description="This task's own allow/deny rules (narrow the global ones).")
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES,
        ge=0,
        description="The largest response body read (after decompression); a larger one fails the attempt.",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, method: Any) -> Any:
        return method.upper() if isinstance(method, str) else method

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return url

    @field_validator("headers")
    @classmethod
    def _header_fields(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if "${{" in name or "${{" in value:
                continue  # rendered before the attempt, and checked then (render_config)
            problem = header_problem(name, value)
            if problem is not None:
                raise ValueError(problem)
        return headers

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
    """One request per attempt on the runner's event loop, within the egress policy."""

    name: ClassVar[str] = "http"
    config_model: ClassVar[type[HttpConfig]] = HttpConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.ASYNC
    summary: ClassVar[str] = "make an HTTP request; the parsed JSON (or text) body is the output"

    def __init__(self, egress: EgressPolicy = DEFAULT_POLICY):
        self.egress = egress

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpTask:
        """The task type with the global egress policy of the ``[http]`` settings table."""
        from flowbuilder.errors import ConfigurationError

        where = f"{settings.source or 'flowbuilder.toml'}: [http]"
        try:
            return cls(EgressPolicy.from_mapping(settings.section("http"), where))
        except EgressConfigError as error:
            raise ConfigurationError(str(error)) from None

    def render_config(self, raw: Mapping[str, Any], scope: Mapping[str, Any]) -> dict[str, Any]:
        """Render expressions: URL values encoded by their slot, header and query names rendered too."""
        from flowbuilder.expressions import as_text, evaluate, render
        from flowrunner.tasktypes._url_template import UrlValueError, render_url

        config = {key: render(value, scope) for key, value in raw.items() if key not in ("url", "headers", "query")}
        url = raw.get("url")
        if isinstance(url, str) and "${{" in url:
            try:
                config["url"] = render_url(url, lambda expression: as_text(evaluate(expression, scope)))
            except UrlValueError as error:
                raise TaskFailure(f"url: {error}", retryable=False) from None
        elif "url" in raw:
            config["url"] = url
        if isinstance(config.get("path"), list):  # a list, or one expression that yielded one
            config["path"] = [as_text(segment) for segment in config["path"]]
        for key in ("headers", "query"):
            if key in raw:
                config[key] = _render_names(raw[key], scope, text_values=key == "headers")
        headers = config.get("headers")
        for name, value in headers.items() if isinstance(headers, dict) else ():
            problem = header_problem(name, value) if isinstance(name, str) and isinstance(value, str) else None
            if problem is not None:  # checked here: the model skips values that held expressions
                raise TaskFailure(problem, retryable=False)
        return config

    async def run(self, config: HttpConfig, context: TaskContext) -> Any:  # type: ignore[override]
        from flowrunner.tasktypes._http_send import send_within_policy

        policies = [self.egress] if config.egress is None else [self.egress, config.egress.policy()]
        response, final_url = await send_within_policy(config, policies, context.log)
        body = _body(response)
        context.log(
            "system", f"HTTP {response.status_code} {config.method} {final_url} ({len(response.content)} bytes)"
        )
        if not config.accepts(response.status_code):
            excerpt = response.text[:200].replace("\n", " ")
            raise TaskFailure(f"{config.method} {final_url} returned {response.status_code}: {excerpt}",
                              status=response.status_code, output=body)  # fmt: skip
        if config.response == "full":
            return {"status": response.status_code, "headers": dict(response.headers), "body": body}
        return body


def _render_names(value: Any, scope: Mapping[str, Any], *, text_values: bool) -> Any:
    """A mapping with expressions rendered in its keys as well as its values."""
    from flowbuilder.expressions import as_text, render

    if not isinstance(value, dict):
        return render(value, scope)
    rendered: dict[str, Any] = {}
    for name, item in value.items():
        item = render(item, scope)
        rendered[as_text(render(name, scope))] = as_text(item) if text_values else item
    return rendered


def _body(response: Any) -> Any:
    text = response.text
    content_type = response.headers.get("content-type", "")
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text
