"""API tokens: the built-in authenticator, its configuration, the hook that collects authenticators."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import pytest

from flowbuilder import hookimpl
from flowbuilder.config import Settings, load_settings
from flowbuilder.errors import ConfigurationError, PluginError
from flowbuilder.interfaces.authenticator import Authenticator, Principal, Role
from flowbuilder.plugins import build_plugin_host
from flowbuilder_contracts import AuthenticatorContract
from flowui import tokens as tokens_module
from flowui.authentication import authenticators_of
from flowui.tokens import TOKENS_FILE_VARIABLE, TokenAuthenticator, TokenEntry, configured_tokens, hash_token, new_token


class TestTokenAuthenticatorContract(AuthenticatorContract):
    @pytest.fixture
    def authenticator_with(self) -> Any:
        def make(principals: Mapping[str, Role]) -> tuple[Authenticator, dict[str, str]]:
            made = {name: new_token() for name in principals}
            entries = [TokenEntry(name, role, made[name][1]) for name, role in principals.items()]
            return TokenAuthenticator(entries), {name: token for name, (token, _) in made.items()}

        return make


def settings_from(tmp_path: Path, text: str, environ: Mapping[str, str] | None = None) -> Settings:
    (tmp_path / "flowbuilder.toml").write_text(text, encoding="utf-8")
    return load_settings(tmp_path, environ or {})


def test_tokens_come_from_serve_tokens_in_flowbuilder_toml(tmp_path: Path) -> None:
    token, digest = new_token()
    settings = settings_from(tmp_path, f'[[serve.tokens]]\nname = "ci"\nrole = "operator"\nsha256 = "{digest}"\n')
    authenticator = TokenAuthenticator.from_settings(settings, {})
    assert authenticator.authenticate(token) == Principal("ci", Role.OPERATOR, "tokens")


def test_tokens_come_from_the_tokens_file_too(tmp_path: Path) -> None:
    token, digest = new_token()
    (tmp_path / "tokens.toml").write_text(f'[[tokens]]\nname = "ops"\nrole = "admin"\nsha256 = "{digest.upper()}"\n')
    environ = {TOKENS_FILE_VARIABLE: str(tmp_path / "tokens.toml")}
    authenticator = TokenAuthenticator.from_settings(settings_from(tmp_path, "", environ), environ)
    assert authenticator.authenticate(token) == Principal("ops", Role.ADMIN, "tokens")


@pytest.mark.parametrize(("entry", "message"), [
    ('name = "ci"\nrole = "root"\nsha256 = "' + "a" * 64 + '"', "not a role"),
    ('name = "ci"\nrole = "viewer"\nsha256 = "abc"', "64 hex digits"),
    ('name = "ci"\nrole = "viewer"\ntoken = "fbt_clear"\nsha256 = "' + "a" * 64 + '"', "keep only its sha256"),
    ('name = "bad name!"\nrole = "viewer"\nsha256 = "' + "a" * 64 + '"', "not valid"),
])  # fmt: skip
def test_a_malformed_token_entry_is_a_one_line_configuration_error(tmp_path: Path, entry: str, message: str) -> None:
    settings = settings_from(tmp_path, f"[[serve.tokens]]\n{entry}\n")
    with pytest.raises(ConfigurationError, match=message) as refused:
        configured_tokens(settings, {})
    assert "\n" not in str(refused.value) and "fbt_clear" not in str(refused.value)


def test_a_name_or_a_digest_given_twice_is_refused(tmp_path: Path) -> None:
    digest = "b" * 64
    twice = f'[[serve.tokens]]\nname = "ci"\nrole = "viewer"\nsha256 = "{digest}"\n'
    with pytest.raises(ConfigurationError, match="twice"):
        configured_tokens(settings_from(tmp_path, twice + twice), {})
    same_digest = twice + f'[[serve.tokens]]\nname = "other"\nrole = "viewer"\nsha256 = "{digest}"\n'
    with pytest.raises(ConfigurationError, match="same sha256"):
        configured_tokens(settings_from(tmp_path, same_digest), {})


def test_an_unreadable_tokens_file_is_a_one_line_error(tmp_path: Path) -> None:
    environ = {TOKENS_FILE_VARIABLE: str(tmp_path / "missing.toml")}
    with pytest.raises(ConfigurationError, match="cannot read"):
        configured_tokens(settings_from(tmp_path, "", environ), environ)


def test_the_comparison_is_constant_time_over_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A digest compared with ``==`` would leak how much matched; stopping at a match, which entry."""
    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def recording_compare(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(tokens_module.hmac, "compare_digest", recording_compare)
    made = [new_token() for _ in range(5)]
    authenticator = TokenAuthenticator([TokenEntry(f"t{n}", Role.VIEWER, digest) for n, (_, digest) in enumerate(made)])
    assert authenticator.authenticate(made[0][0]) is not None
    assert len(compared) == 5 and all(isinstance(a, bytes) and len(a) == 32 for a, _ in compared)
    compared.clear()
    assert authenticator.authenticate("fbt_unknown") is None and len(compared) == 5


def test_the_configuration_keeps_only_the_hash() -> None:
    token, digest = new_token()
    assert digest == hash_token(token) and token not in digest and len(digest) == 64
    assert token.startswith("fbt_") and len(token) > 40


class OtherAuthenticator(Authenticator):
    name = "other"

    def authenticate(self, credential: str) -> Principal | None:
        return Principal("someone", Role.VIEWER, self.name) if credential == "other-credential" else None


class OtherPlugin:
    @hookimpl
    def flowbuilder_authenticators(self, settings: Settings) -> list[Authenticator]:
        return [OtherAuthenticator()]


def test_the_hook_collects_every_plugins_authenticators_tokens_first() -> None:
    host = build_plugin_host(Settings(load_plugins=("ui",)))
    host.register(OtherPlugin(), "other-plugin")
    found = authenticators_of(host)
    assert [type(item).name for item in found] == ["tokens", "other"]


def test_two_authenticators_with_one_name_name_both_plugins() -> None:
    host = build_plugin_host(Settings(load_plugins=("ui",)))
    host.register(OtherPlugin(), "first")
    host.register(OtherPlugin(), "second")
    with pytest.raises(PluginError, match=r"first.*second|second.*first"):
        authenticators_of(host)


def test_without_flowbuilder_ui_the_hook_is_unknown_in_one_line() -> None:
    host = build_plugin_host(Settings(load_plugins=("core",)))
    with pytest.raises(PluginError, match="`ui` plugin"):
        authenticators_of(host)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    environ["FLOWBUILDER_NO_CACHE"] = "1"
    executable = str(Path(sys.executable).with_name("flowbuilder"))
    return subprocess.run([executable, *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_token_new_prints_a_token_once_and_the_lines_that_let_it_in(tmp_path: Path) -> None:
    done = run_cli("token", "new", "--name", "ci", "--role", "operator", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("fbt_") and token not in done.stderr
    lines = done.stderr[done.stderr.index("[[serve.tokens]]") :]
    (tmp_path / "flowbuilder.toml").write_text(lines, encoding="utf-8")
    authenticator = TokenAuthenticator.from_settings(load_settings(tmp_path, {}), {})
    assert authenticator.authenticate(token) == Principal("ci", Role.OPERATOR, "tokens")


@pytest.mark.parametrize("args", [("--name", "ci", "--role", "root"), ("--name", "bad name", "--role", "viewer"),
                                  ("--role", "viewer",)])  # fmt: skip
def test_token_new_refuses_bad_arguments_in_one_line_with_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run_cli("token", "new", *args, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
