"""A :class:`~flowbuilder_distributed.worker.Worker` on a thread of the test process.

For tests that need a worker but not a process boundary (the executor contract, late
results): the real worker engine, against the test's real redis-server, on its own event
loop in a daemon thread; :meth:`stop` drains it and joins the thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Mapping

from flowbuilder.interfaces import TaskType
from flowbuilder_distributed.worker import Worker, WorkerOptions


class WorkerThread:
    def __init__(self, url: str, task_types: Mapping[str, TaskType], options: WorkerOptions | None = None):
        self.worker = Worker(url, task_types, options)
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, name="test-worker", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.loop.run_until_complete(self.worker.run())
        except BaseException as error:  # reported by stop()
            self.error = error
        finally:
            self.loop.close()

    def stop(self, within: float = 30.0) -> None:
        if self.thread.is_alive():
            try:
                self.loop.call_soon_threadsafe(self.worker.stop)
            except RuntimeError:  # its loop already ended
                pass
        self.thread.join(within)
        assert not self.thread.is_alive(), "the worker thread did not stop"
