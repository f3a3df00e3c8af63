"""The egress policy of http tasks: checked after DNS, on every redirect, global and per task (#8.9).

Only 127.0.0.1 is ever contacted: loopback is denied *by policy* to show a refusal, and the
metadata ranges are checked on addresses without any connection being made.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import pytest
from flowrunner_helpers import TASK_TYPES, plan_of
from http_recorder import recording_server

from flowbuilder.config import Settings
from flowbuilder.errors import ConfigurationError, WorkflowError
from flowbuilder.events import TaskStatus
from flowbuilder.interfaces import RunRequest, RunResult
from flowbuilder.params import resolve_params
from flowrunner import LocalRunner
from flowrunner.tasktypes import HttpTask
from flowrunner.tasktypes._egress import EgressPolicy

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))
DENY_LOOPBACK = EgressPolicy.from_mapping({"deny_private": True}, "test")


def run_with(policy: EgressPolicy, text: str, params: Mapping[str, Any] | None = None) -> RunResult:
    """Run a workflow whose http tasks have ``policy`` as their global egress policy."""
    task_types = {**TASK_TYPES, "http": HttpTask(policy)}
    plan = plan_of(text)
    runner = LocalRunner(task_types)
    request = RunRequest(plan=plan, params=resolve_params(plan.workflow, params or {}))
    try:
        return asyncio.run(asyncio.wait_for(runner.run_async(request), 60))
    finally:
        runner.close_workers()


def _call(url: str, extra: str = "") -> str:
    return f"""
name: egress
tasks:
  - name: call
    type: http
    retry: {{attempts: 3, backoff: 0.01}}
    config: {{url: "{url}"{extra}}}
"""


def test_loopback_denied_by_the_global_policy_is_refused_before_any_connection() -> None:
    with recording_server() as server:
        result = run_with(DENY_LOOPBACK, _call(f"{server.base}/secret"))
    state = result.tasks["call"]
    assert server.requests == []
    assert state.status is TaskStatus.FAILED and state.attempts == 1  # a refusal is not retried
    assert "refused by the egress policy: 127.0.0.1 is a private or loopback address" in state.error


def test_a_host_name_is_judged_by_the_addresses_it_resolves_to() -> None:
    """``localhost`` is not in any list by name; its address 127.0.0.1 is."""
    policy = EgressPolicy.from_mapping({"deny": ["127.0.0.0/8", "::1"]}, "test")
    with recording_server() as server:
        result = run_with(policy, _call(f"http://localhost:{server.port}/secret"))
    assert server.requests == []
    assert "is inside 127.0.0.0/8, which is in `deny`" in result.tasks["call"].error


def test_a_redirect_to_a_denied_host_is_refused_and_never_sent() -> None:
    """The first hop is allowed by name; the redirect's host is not, and the default is deny."""
    policy = EgressPolicy.from_mapping({"allow": ["localhost"], "default": "deny"}, "test")
    with recording_server() as first, recording_server() as target:
        first.redirect_to = f"{target.base}/internal"
        result = run_with(policy, _call(f"http://localhost:{first.port}/start"))
    assert first.paths == ["/start"]
    assert target.requests == []
    assert f"GET {target.base}/internal: refused by the egress policy" in result.tasks["call"].error


def test_redirects_allowed_by_the_policy_are_followed_and_drop_credentials_across_hosts() -> None:
    with recording_server() as first, recording_server() as target:
        first.redirect_to = f"{target.base}/next"
        result = run_with(
            EgressPolicy(), _call(f"{first.base}/start", ', headers: {Authorization: "Bearer s", X-Keep: "1"}')
        )
    assert result.succeeded
    ((_m, path, headers),) = target.requests
    assert path == "/next" and "authorization" not in headers and headers["x-keep"] == "1"


def test_a_task_policy_narrows_the_global_one() -> None:
    with recording_server() as server:
        result = run_with(EgressPolicy(), _call(f"{server.base}/x", ", egress: {deny_private: true}"))
    assert server.requests == []
    assert "is a private or loopback address" in result.tasks["call"].error


def test_a_task_policy_cannot_widen_the_global_one() -> None:
    with recording_server() as server:
        result = run_with(DENY_LOOPBACK, _call(f"{server.base}/x", ', egress: {allow: ["127.0.0.1/32"]}'))
    assert server.requests == []
    assert "refused by the egress policy" in result.tasks["call"].error


def test_a_bad_task_policy_entry_is_a_located_validation_error() -> None:
    with pytest.raises(WorkflowError) as raised:
        plan_of(_call("http://127.0.0.1:9/x", ', egress: {deny: ["not a network!"]}'))
    (problem,) = raised.value.diagnostics
    assert "neither a network" in problem.message and problem.line == 7


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.170.2", "fe80::1", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"],
)
def test_metadata_and_link_local_addresses_are_refused_by_default(address: str) -> None:
    reason = EgressPolicy().refusal("metadata.internal", ipaddress.ip_address(address))
    assert reason is not None and "link-local or cloud-metadata" in reason


def test_public_and_private_addresses_pass_the_default_policy() -> None:
    for address in ("93.184.216.34", "10.1.2.3", "127.0.0.1", "2001:db8::1"):
        assert EgressPolicy().refusal("host", ipaddress.ip_address(address)) is None


def test_an_allowed_network_lifts_a_range_rule_but_an_allowed_name_does_not() -> None:
    policy = EgressPolicy.from_mapping({"deny_private": True, "allow": ["10.1.0.0/16", "*.corp.example"]}, "t")
    assert policy.refusal("db", ipaddress.ip_address("10.1.2.3")) is None
    assert policy.refusal("api.corp.example", ipaddress.ip_address("10.9.9.9")) is not None
    assert policy.refusal("api.corp.example", ipaddress.ip_address("93.184.216.34")) is None


def test_the_global_policy_comes_from_the_http_settings_table() -> None:
    task = HttpTask.from_settings(Settings(sections={"http": {"deny": "10.0.0.0/8, metadata.example"}}))
    assert task.egress.refusal("x", ipaddress.ip_address("10.0.0.1")) is not None
    assert task.egress.refusal("metadata.example", ipaddress.ip_address("93.184.216.34")) is not None
    with pytest.raises(ConfigurationError, match=r"\[http\]: unknown option 'dney'"):
        HttpTask.from_settings(Settings(sections={"http": {"dney": ["10.0.0.0/8"]}}))


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    environ.update(env)
    return subprocess.run([FLOWBUILDER, *args], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60)


def test_the_cli_applies_the_global_policy_from_the_environment_and_the_file(tmp_path: Path) -> None:
    with recording_server() as server:
        workflow = tmp_path / "call.yaml"
        workflow.write_text(_call(f"{server.base}/x"))
        by_env = _cli(tmp_path, "run", "--store", "memory://", str(workflow), FLOWBUILDER_HTTP__DENY_PRIVATE="true")
        (tmp_path / "flowbuilder.toml").write_text('[http]\ndeny = ["127.0.0.1"]\n')
        by_file = _cli(tmp_path, "run", "--store", "memory://", str(workflow))
    assert server.requests == []
    assert by_env.returncode == 1 and "private or loopback" in by_env.stdout + by_env.stderr
    assert by_file.returncode == 1 and "which is in `deny`" in by_file.stdout + by_file.stderr


def test_a_bad_global_policy_is_a_one_line_configuration_error(tmp_path: Path) -> None:
    workflow = tmp_path / "call.yaml"
    workflow.write_text(_call("http://127.0.0.1:9/x"))
    (tmp_path / "flowbuilder.toml").write_text('[http]\ndeny = ["not a network!"]\n')
    completed = _cli(tmp_path, "validate", str(workflow))
    assert completed.returncode not in (0, 70)
    assert "Traceback" not in completed.stderr
    assert "[http]: `deny`: 'not a network!' is neither a network" in completed.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_is_verified_against_the_url_name_while_sent_to_the_checked_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pinning the address must not weaken TLS: the certificate is checked for the URL's name."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with recording_server(tls=(cert, key)) as server:
        by_name = run_with(EgressPolicy(), _call(f"https://localhost:{server.port}/named"))
        by_address = run_with(EgressPolicy(), _call(f"https://127.0.0.1:{server.port}/address"))
    assert by_name.succeeded, by_name.tasks["call"].error
    assert server.requests[0][2]["host"] == f"localhost:{server.port}"
    assert "CERTIFICATE_VERIFY_FAILED" in by_address.tasks["call"].error  # no certificate for the address
