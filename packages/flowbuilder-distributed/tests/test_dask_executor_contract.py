"""DaskExecutor passes the AttemptExecutor contract against a real LocalCluster on 127.0.0.1."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from dask_cluster import local_cluster

from flowbuilder_contracts import AttemptExecutorContract
from flowbuilder_distributed.dask_executor import DaskExecutor


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    yield from local_cluster()


class TestDaskExecutor(AttemptExecutorContract):
    @pytest.fixture
    def executor(self, dask_cluster: Any) -> DaskExecutor:
        from distributed import Client

        return DaskExecutor(Client(dask_cluster.scheduler_address, timeout=20, set_as_default=False), owns_client=True)
