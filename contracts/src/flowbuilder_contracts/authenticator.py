"""The Authenticator contract: what every :class:`flowbuilder.interfaces.authenticator.Authenticator` must do.

Subclass :class:`AuthenticatorContract` and give it one fixture, ``authenticator_with``: a
callable taking a mapping ``principal name -> Role`` and returning the authenticator that
knows exactly those principals, together with the credential it accepts for each name (for
OIDC: an authenticator trusting a test issuer, and a token minted for each subject)::

    class TestOidcAuthenticator(AuthenticatorContract):
        @pytest.fixture
        def authenticator_with(self, test_issuer):
            def make(principals):
                tokens = {name: test_issuer.mint(name, role.value) for name, role in principals.items()}
                return OidcAuthenticator(test_issuer.url), tokens
            return make

The suite checks the rules the interface's docstring states: the principal of each known
credential, None (never an exception) for anything else — empty, huge, binary-looking,
nearly right — no credential in a principal's name, answers from many threads at once, and
``is_configured``.
"""

from __future__ import annotations

import threading
from typing import Callable, Mapping

import pytest

from flowbuilder.interfaces.authenticator import Authenticator, Principal, Role
from flowbuilder_contracts._audit import Contract, audit_implementation

AUTHENTICATOR_CONTRACT_VERSION = 1
AuthenticatorWith = Callable[[Mapping[str, Role]], tuple[Authenticator, Mapping[str, str]]]

PRINCIPALS = {"ci": Role.OPERATOR, "dashboard": Role.VIEWER, "root-ops": Role.ADMIN}


def _near_misses(credential: str) -> list[str]:
    """Credentials one step from ``credential``: what a timing or parsing bug would let in."""
    flipped = credential[:-1] + ("A" if credential[-1] != "A" else "B")
    return [flipped, credential[:-1], credential + "x", credential + " ", " " + credential, credential.upper()
            if credential.upper() != credential else credential.lower() + "z", credential * 2]  # fmt: skip


class AuthenticatorContract(Contract):
    """Abstract tests for an Authenticator; provide ``authenticator_with``."""

    __contract__ = True

    @pytest.fixture
    def authenticator_with(self) -> AuthenticatorWith:
        raise NotImplementedError("an AuthenticatorContract subclass must define an `authenticator_with` fixture")

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_an_authenticator_with_a_name(self, authenticator_with: AuthenticatorWith) -> None:
        authenticator, _ = authenticator_with(PRINCIPALS)
        assert isinstance(authenticator, Authenticator)
        assert isinstance(type(authenticator).name, str) and type(authenticator).name

    def test_each_known_credential_gives_its_principal_and_role(self, authenticator_with: AuthenticatorWith) -> None:
        authenticator, credentials = authenticator_with(PRINCIPALS)
        for name, role in PRINCIPALS.items():
            principal = authenticator.authenticate(credentials[name])
            assert isinstance(principal, Principal)
            assert (principal.name, principal.role) == (name, role) and isinstance(principal.role, Role)

    def test_a_principals_name_never_holds_its_credential(self, authenticator_with: AuthenticatorWith) -> None:
        authenticator, credentials = authenticator_with(PRINCIPALS)
        for credential in credentials.values():
            principal = authenticator.authenticate(credential)
            assert principal is not None and credential not in principal.name and credential not in repr(principal)

    @pytest.mark.parametrize("hostile", ["", " ", "x", "Bearer x", "\x00" * 64, "\udcff\udcfe broken", "二" * 5000,
                                         "A" * 1_000_000, "../../etc/passwd", "' OR '1'='1"])  # fmt: skip
    def test_anything_else_is_none_not_an_error(self, authenticator_with: AuthenticatorWith, hostile: str) -> None:
        authenticator, _ = authenticator_with(PRINCIPALS)
        assert authenticator.authenticate(hostile) is None

    def test_a_nearly_right_credential_is_none(self, authenticator_with: AuthenticatorWith) -> None:
        authenticator, credentials = authenticator_with(PRINCIPALS)
        for credential in credentials.values():
            for near in _near_misses(credential):
                assert authenticator.authenticate(near) is None, "a credential one step off was accepted"

    def test_an_authenticator_that_knows_nobody_accepts_nothing(self, authenticator_with: AuthenticatorWith) -> None:
        _, credentials = authenticator_with(PRINCIPALS)
        empty, _ = authenticator_with({})
        assert all(empty.authenticate(credential) is None for credential in credentials.values())

    def test_is_configured_answers_a_bool_and_is_true_when_it_knows_someone(
            self, authenticator_with: AuthenticatorWith) -> None:  # fmt: skip
        authenticator, _ = authenticator_with(PRINCIPALS)
        assert authenticator.is_configured() is True
        assert isinstance(authenticator_with({})[0].is_configured(), bool)

    def test_many_threads_get_the_right_answers_at_once(self, authenticator_with: AuthenticatorWith) -> None:
        authenticator, credentials = authenticator_with(PRINCIPALS)
        start = threading.Barrier(8)
        wrong: list[str] = []

        def ask(worker: int) -> None:
            start.wait()
            for round_ in range(200):
                name = list(PRINCIPALS)[(worker + round_) % len(PRINCIPALS)]
                principal = authenticator.authenticate(credentials[name])
                if principal is None or principal.name != name or authenticator.authenticate(f"nope-{round_}"):
                    wrong.append(name)

        threads = [threading.Thread(target=ask, args=(worker,)) for worker in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert wrong == []


__all__ = ["AUTHENTICATOR_CONTRACT_VERSION", "PRINCIPALS", "AuthenticatorContract", "AuthenticatorWith"]
