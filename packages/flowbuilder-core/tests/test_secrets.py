"""Secrets: core's providers pass the contract; resolution and masking keep values out of text."""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path
from typing import Callable, Mapping

import pytest

from flowbuilder.config import Settings
from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.secrets import SecretProvider
from flowbuilder.plugins import build_plugin_host
from flowbuilder.secret_providers import DirectorySecrets, EnvironmentSecrets
from flowbuilder.secrets import MASK, SecretMasker, masker_for, resolve_secrets
from flowbuilder_contracts import SecretProviderContract

SECRET = "s3cr3t-Tok/en+=?&"  # noqa: S105 - a test value, masked below


class TestEnvironmentSecrets(SecretProviderContract):
    @pytest.fixture
    def provider_with(self) -> Callable[[Mapping[str, str]], SecretProvider]:
        return lambda secrets: EnvironmentSecrets({f"FLOWBUILDER_SECRET_{k}": v for k, v in secrets.items()})


class TestDirectorySecrets(SecretProviderContract):
    @pytest.fixture
    def provider_with(self, tmp_path: Path) -> Callable[[Mapping[str, str]], SecretProvider]:
        def make(secrets: Mapping[str, str]) -> SecretProvider:
            directory = tmp_path / f"secrets-{len(list(tmp_path.iterdir()))}"
            directory.mkdir()
            for name, value in secrets.items():
                (directory / name).write_text(value + "\n", encoding="utf-8")
            return DirectorySecrets(directory)

        return make


@pytest.mark.parametrize(
    "encoded",
    [
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
        base64.b64encode(SECRET.encode()).decode().rstrip("="),
        urllib.parse.quote(SECRET, safe=""),
        urllib.parse.quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
    ],
    ids=["raw", "base64", "urlsafe-base64", "unpadded-base64", "url", "url-plus", "json"],
)
def test_a_secret_and_its_common_encodings_are_masked_in_text(encoded: str) -> None:
    masker = SecretMasker([SECRET])
    assert masker.mask(f"before {encoded} after") == f"before {MASK} after"


def test_each_line_of_a_multi_line_secret_is_masked_on_its_own() -> None:
    masker = SecretMasker(["-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\n-----END KEY-----"])
    assert masker.mask("AAAAB3NzaC1yc2E") == MASK


def test_values_inside_structures_and_keys_are_masked_and_other_types_kept() -> None:
    masker = SecretMasker([SECRET])
    value = {"token": SECRET, SECRET: [1, f"x{SECRET}y", None], "n": 2.5}
    assert masker.mask_value(value) == {"token": MASK, MASK: [1, f"x{MASK}y", None], "n": 2.5}


def test_a_masker_without_values_is_falsy_and_changes_nothing() -> None:
    masker = SecretMasker()
    assert not masker and masker.mask(SECRET) == SECRET and masker.mask_value({"a": SECRET}) == {"a": SECRET}


def test_secret_params_of_any_type_are_masked_as_their_text() -> None:
    masker = masker_for({}, [123456, {"k": "value-1"}, None, True])
    assert masker.mask("pin 123456") == f"pin {MASK}"


def test_resolution_asks_providers_in_order_and_the_first_answer_wins() -> None:
    first = EnvironmentSecrets({"FLOWBUILDER_SECRET_A": "from-env"})
    second = EnvironmentSecrets({"FLOWBUILDER_SECRET_A": "other", "FLOWBUILDER_SECRET_B": "from-second"})
    assert resolve_secrets(["A", "B"], [first, second]) == {"A": "from-env", "B": "from-second"}


def test_missing_secrets_are_one_error_naming_them_all_and_the_providers_asked() -> None:
    with pytest.raises(ConfigurationError) as raised:
        resolve_secrets(["B", "A"], [EnvironmentSecrets({})])
    assert str(raised.value) == ("secrets 'A', 'B' not found (providers asked: environment); set FLOWBUILDER_SECRET_A")


class Unreachable:
    name = "vault"

    def get(self, name: str) -> str | None:
        raise ConnectionError("vault at https://vault:8200\nunreachable")


def test_a_provider_that_raises_is_one_line_naming_it_not_an_internal_error() -> None:
    from flowbuilder.errors import PluginError

    with pytest.raises(PluginError) as raised:
        resolve_secrets(["A"], [EnvironmentSecrets({}), Unreachable()])
    assert str(raised.value) == (
        f"secret provider 'vault' ({__name__}) failed to look up secret 'A':"
        " ConnectionError: vault at https://vault:8200 unreachable"
    )


def test_a_secret_too_short_to_mask_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigurationError, match="shorter than 4 characters") as raised:
        resolve_secrets(["PIN"], [EnvironmentSecrets({"FLOWBUILDER_SECRET_PIN": "123"})])
    assert "123" not in str(raised.value)


def test_an_unreadable_secret_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "DIRNAME").mkdir()
    with pytest.raises(ConfigurationError, match="secret file"):
        DirectorySecrets(tmp_path).get("DIRNAME")


def test_the_plugin_host_asks_the_environment_then_the_configured_directory(tmp_path: Path) -> None:
    host = build_plugin_host(Settings(sections={"secrets": {"dir": str(tmp_path)}}))
    assert [provider.name for provider in host.secret_providers()][:2] == ["environment", "files"]
