"""flowbuilder-contracts: the test suites every FlowBuilder implementation runs against itself.

Each suite is an abstract pytest class. An implementation subclasses it in its own tests,
provides the fixture(s) its docstring names, and inherits every test::

    from flowbuilder_contracts import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path): ...

        @pytest.fixture
        def reopen_store(self, tmp_path): ...

The suites: :class:`StoreContract`, :class:`RunnerContract`, :class:`TaskTypeContract`,
:class:`ConsensusEngineContract`, :class:`SecretProviderContract`, :class:`AttemptExecutorContract`,
:class:`TriggerSourceContract`, :class:`MessageBusContract`, :class:`AuthenticatorContract`,
:class:`NodeAnnouncerContract`, :class:`EventSinkContract`. :data:`CONTRACT_TESTS` lists the tests each defines and
:func:`audit_implementation` reports any a subclass silently drops (every suite runs it as
its own first test).
"""

from flowbuilder_contracts._audit import CONTRACT_TESTS, Contract, audit_implementation, audit_source, contracts_of
from flowbuilder_contracts._version import __version__
from flowbuilder_contracts.authenticator import AuthenticatorContract
from flowbuilder_contracts.consensus import ConsensusEngineContract
from flowbuilder_contracts.event_sink import EventSinkContract
from flowbuilder_contracts.executor import AttemptExecutorContract
from flowbuilder_contracts.message_bus import MessageBusContract
from flowbuilder_contracts.node_announcer import NodeAnnouncerContract
from flowbuilder_contracts.runner import RunnerContract
from flowbuilder_contracts.secrets import SecretProviderContract
from flowbuilder_contracts.store import StoreContract
from flowbuilder_contracts.tasktype import TaskTypeContract
from flowbuilder_contracts.trigger_source import TriggerSourceContract

CONTRACTS: tuple[type[Contract], ...] = (
    StoreContract,
    RunnerContract,
    TaskTypeContract,
    ConsensusEngineContract,
    SecretProviderContract,
    AttemptExecutorContract,
    TriggerSourceContract,
    MessageBusContract,
    AuthenticatorContract,
    NodeAnnouncerContract,
    EventSinkContract,
)

__all__ = [
    "AttemptExecutorContract",
    "AuthenticatorContract",
    "CONTRACTS",
    "CONTRACT_TESTS",
    "ConsensusEngineContract",
    "Contract",
    "EventSinkContract",
    "MessageBusContract",
    "NodeAnnouncerContract",
    "RunnerContract",
    "SecretProviderContract",
    "StoreContract",
    "TaskTypeContract",
    "TriggerSourceContract",
    "__version__",
    "audit_implementation",
    "audit_source",
    "contracts_of",
]
