"""The SecretProvider contract: what every :class:`flowbuilder.interfaces.secrets.SecretProvider` must do.

Subclass :class:`SecretProviderContract` and give it one fixture, ``provider_with``: a
callable taking a mapping ``secret name -> value`` and returning a provider that holds
exactly those secrets (for a vault: a test vault seeded with them)::

    class TestVaultSecrets(SecretProviderContract):
        @pytest.fixture
        def provider_with(self, vault_server):
            def make(secrets):
                vault_server.seed(secrets)
                return VaultSecrets(vault_server.url)
            return make
"""

from __future__ import annotations

from typing import Callable, Mapping

import pytest

from flowbuilder.interfaces.secrets import SecretProvider
from flowbuilder_contracts._audit import Contract, audit_implementation

ProviderWith = Callable[[Mapping[str, str]], SecretProvider]

SECRETS = {"API_TOKEN": "tok-3f9a7c2e", "multi_line": "line one\nline two", "_x1": "ünïcødé value"}


class SecretProviderContract(Contract):
    """Abstract tests for a SecretProvider; provide ``provider_with``."""

    __contract__ = True

    @pytest.fixture
    def provider_with(self) -> ProviderWith:
        raise NotImplementedError("a SecretProviderContract subclass must define a `provider_with` fixture")

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_a_secret_provider_with_a_name(self, provider_with: ProviderWith) -> None:
        provider = provider_with({})
        assert isinstance(provider, SecretProvider)
        assert isinstance(type(provider).name, str) and type(provider).name

    def test_a_known_secret_is_returned_exactly(self, provider_with: ProviderWith) -> None:
        provider = provider_with(SECRETS)
        for name, value in SECRETS.items():
            assert provider.get(name) == value

    def test_an_unknown_secret_is_none_not_an_error(self, provider_with: ProviderWith) -> None:
        provider = provider_with({"API_TOKEN": "tok-3f9a7c2e"})
        assert provider.get("OTHER_TOKEN") is None
        assert provider.get("api_token") is None or provider.get("api_token") == "tok-3f9a7c2e"

    def test_asking_twice_gives_the_same_answer(self, provider_with: ProviderWith) -> None:
        provider = provider_with(SECRETS)
        assert provider.get("API_TOKEN") == provider.get("API_TOKEN") == SECRETS["API_TOKEN"]
