"""RedisStreamsExecutor passes the AttemptExecutor contract against a real redis-server and a real worker."""

from __future__ import annotations

from typing import Iterator

import pytest
from in_process_worker import WorkerThread

from flowbuilder_contracts import AttemptExecutorContract
from flowbuilder_contracts.executor import ContractWork
from flowbuilder_distributed.executor import RedisStreamsExecutor
from flowbuilder_distributed.worker import WorkerOptions


@pytest.fixture
def contract_worker(redis_url: str) -> Iterator[WorkerThread]:
    serving = WorkerThread(redis_url, {"contract_work": ContractWork()}, WorkerOptions(concurrency=64, lease=5))
    yield serving
    serving.stop()


class TestRedisStreamsExecutor(AttemptExecutorContract):
    @pytest.fixture
    def executor(self, redis_url: str, contract_worker: WorkerThread) -> RedisStreamsExecutor:
        return RedisStreamsExecutor(redis_url)
