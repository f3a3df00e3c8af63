"""``scheduler --cluster/--node/--cluster-secret-file/--cluster-dir`` become one ClusterConfig."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowbuilder.cli.cluster_option import SECRET_ENV, cluster_config, read_secret
from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.consensus import CLUSTER_SECRET_ENV, ClusterConfig


def test_the_cli_and_the_interface_name_the_same_variable() -> None:
    assert SECRET_ENV == CLUSTER_SECRET_ENV == "FLOWBUILDER_CLUSTER_SECRET"  # noqa: S105 - a variable's name


def test_the_secret_comes_from_the_environment_without_a_file() -> None:
    assert read_secret(None, {SECRET_ENV: "from-env"}) == "from-env"
    assert read_secret(None, {SECRET_ENV: ""}) is None
    assert read_secret(None, {}) is None


def test_a_secret_file_wins_over_the_environment_and_loses_its_surrounding_whitespace(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("  from-file\n", encoding="utf-8")
    assert read_secret(secret_file, {SECRET_ENV: "from-env"}) == "from-file"


def test_a_binary_secret_file_is_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigurationError, match="not UTF-8 text"):
        read_secret(secret_file)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.timeout(30)
def test_a_secret_file_that_is_a_fifo_nobody_writes_to_is_refused_not_waited_on(tmp_path: Path) -> None:
    """``open()`` waits for a FIFO's writer: ``--cluster-secret-file FIFO`` hung the scheduler."""
    os.mkfifo(tmp_path / "secret")
    with pytest.raises(ConfigurationError, match="is empty"):
        read_secret(tmp_path / "secret")


def test_the_options_make_one_cluster_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "shared")
    config = cluster_config(" 10.0.0.1:7001, 10.0.0.2:7001 ,10.0.0.3:7001", "10.0.0.2:7001", None, tmp_path)
    members = ("10.0.0.1:7001", "10.0.0.2:7001", "10.0.0.3:7001")
    assert config == ClusterConfig(node="10.0.0.2:7001", members=members, secret="shared", state_dir=tmp_path)  # noqa: S106
    assert config.peers == ("10.0.0.1:7001", "10.0.0.3:7001")


def test_no_cluster_options_mean_no_cluster() -> None:
    assert cluster_config(None, None, None, None) is None


def test_a_lone_member_needs_no_node_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    config = cluster_config("127.0.0.1:7001", None, None, None)
    assert config is not None and config.node == "127.0.0.1:7001" and config.secret is None


@pytest.mark.parametrize(
    ("members", "node", "message"),
    [
        (",", None, "--cluster is empty"),
        ("a:1,b:2", None, "say which one this process is"),
        ("a:1,b:2", "c:3", "is not one of the cluster's members"),
        ("a:1,a:1", "a:1", "listed twice"),
        (None, "a:1", "--node needs --cluster"),
    ],
)
def test_bad_cluster_options_are_configuration_errors(members: str | None, node: str | None, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        cluster_config(members, node, None, None)


def test_engines_without_a_cluster_refuse_one() -> None:
    from flowbuilder.consensus import NoOpConsensus, StoreLeaseConsensus
    from flowbuilder.stores.memory import MemoryStore

    cluster = ClusterConfig(node="a:1", members=("a:1",))
    store = MemoryStore.open("memory://refuse-cluster")
    for engine_class in (NoOpConsensus, StoreLeaseConsensus):
        with pytest.raises(ConfigurationError, match="does not take --cluster"):
            engine_class.for_store("a:1", store, cluster=cluster)


def test_the_secret_stays_out_of_the_config_repr() -> None:
    config = ClusterConfig(node="a:1", members=("a:1", "b:2"), secret="do-not-print")  # noqa: S106 - a test value
    assert "do-not-print" not in repr(config) and "a:1" in repr(config)
