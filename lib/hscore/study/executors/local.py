"""The local executor: each job in this process, one at a time, with a progress bar per run."""

from __future__ import annotations

from filelock import Timeout

from ...engine.prepared import DataCache
from ..steps import run_step
from .base import Executor, Job, Result, failure


class LocalExecutor(Executor):
    name = "local"

    def __init__(self):
        self.queue: list[Job] = []
        self.cache = DataCache()

    def free(self) -> int:
        return 0 if self.queue else 1

    def start(self, jobs: list[Job]) -> None:
        self.queue.extend(jobs)

    def wait(self, timeout: float) -> list[Result]:
        if not self.queue:
            return []
        job = self.queue.pop(0)
        try:
            record, ran = run_step(job.step, job.identity, self.cache, wait=False)
        except Timeout:   # another process is running it: come back to it
            return [Result(job, busy=True)]
        except Exception as e:  # noqa: BLE001 - reported per step; the scheduler goes on with the others
            return [Result(job, error=failure(e))]
        return [Result(job, record, ran)]
