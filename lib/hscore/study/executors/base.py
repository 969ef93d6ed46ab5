"""The executor interface: where the plan's trainable steps run. The scheduler owns the rest.

An executor is given ``Job``s (a step and the identity its result must have) and reports
``Result``s; it decides nothing about order or dependencies (``hscore.study.executors.scheduler``
does). Three adapters: this process (``local``), worker processes (``pool``), Slurm job arrays
or submitit's local executor (``slurm``). A new executor is one class with these four members.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from ...errors import HScoreError
from ..plan import Step


@dataclass(frozen=True)
class Job:
    """One step to run, and the identity its result must have (``hscore.study.run``)."""

    step: Step
    identity: dict


@dataclass(frozen=True)
class Result:
    """What became of a job: its record and whether it was trained now (False: found finished), or
    the reason it failed, or ``busy``: another process holds its lock (try again later)."""

    job: Job
    record: dict | None = None
    ran: bool = False
    error: str | None = None
    busy: bool = False


class Executor:
    """Runs jobs somewhere; ``free()`` says how many more it takes now."""

    name = ""

    def free(self) -> int:
        raise NotImplementedError

    def start(self, jobs: list[Job]) -> None:
        """Begin these jobs (at most ``free()`` of them)."""
        raise NotImplementedError

    def wait(self, timeout: float) -> list[Result]:
        """The jobs that ended, waiting up to ``timeout`` seconds for one."""
        raise NotImplementedError

    def close(self, cancel: bool = False) -> None:
        """Release what the executor holds; ``cancel``: stop the jobs still running, now."""

    def describe(self) -> str:
        return self.name


def failure(e: BaseException) -> str:
    """One line for a step that raised: the message of one of ours, else the exception and where."""
    if isinstance(e, HScoreError):
        return f"{type(e).__name__}: {e}"
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return f"{type(e).__name__}: {e}{at}"
