"""Executors: where the plan's steps run, behind one interface (``base.Executor``), one registry.

- ``local``: this process, step after step, with a bar for the plan and one per run;
- ``local`` with ``jobs > 1``: N worker processes (``pool``): one GPU each on a machine with GPUs,
  the CPU cores split between them otherwise;
- ``slurm``: one Slurm job array per batch of ready steps, through submitit; ``submitit-local``:
  the same path with submitit's local executor, real subprocesses, to try it on one machine.

Every executor runs ``hscore.study.steps.run_step``; the scheduler (``scheduler.execute``) owns the
order. A step is run by whoever holds its lock (``hscore.study.store.step_lock``), so executors and
invocations can overlap on one plan and each step still trains once.
"""

from __future__ import annotations

import os

from ...config import ClusterConfig, ConfigError
from ..plan import Plan
from ..run import Board
from .base import Executor, Job, Result
from .pool import PoolExecutor, visible_gpus
from .scheduler import Outcome, check, execute


def _local(plan: Plan, jobs: int = 1, cluster: ClusterConfig | None = None) -> Executor:
    if jobs > 1:
        return PoolExecutor(jobs)
    from .local import LocalExecutor  # runs steps here: torch loads only when a plan runs

    return LocalExecutor()


def _submitit(backend: str):
    def make(plan: Plan, jobs: int = 1, cluster: ClusterConfig | None = None) -> Executor:
        from .slurm import SlurmExecutor  # imports submitit: only for this executor

        return SlurmExecutor(plan.profile, cluster or ClusterConfig(), backend)
    return make


EXECUTORS = {"local": _local, "slurm": _submitit("slurm"), "submitit-local": _submitit("local")}


def make_executor(name: str, plan: Plan, jobs: int = 1, cluster: ClusterConfig | None = None) -> Executor:
    """The executor ``name`` of ``EXECUTORS`` for this plan."""
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    return EXECUTORS[name](plan, jobs, cluster)


def resolve_jobs(jobs: str | int) -> int:
    """``--jobs``: a number >= 1, or ``auto``: one worker per GPU, else 2 on a CPU with 2 cores or more.

    On the 2-core CPU this package is built on, two workers with one thread each run phase 1 at
    1.24x the examples/s of one process with two threads (``benchmarks/engine.py``)."""
    if str(jobs) == "auto":
        gpus = visible_gpus()
        return len(gpus) if gpus else (2 if (os.cpu_count() or 1) >= 2 else 1)
    try:
        n = int(jobs)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"--jobs {jobs}: give a number of worker processes >= 1, or auto")
    return n


def run(plan: Plan, executor: str = "local", jobs: int = 1, stages=None, cluster: ClusterConfig | None = None,
        board: Board | None = None) -> Outcome:
    """Run the plan's unfinished steps (of ``stages``) with the executor ``executor``; raise
    ``StepFailedError`` naming every step that failed, after the others finished."""
    board = board or Board(plan, load_data=True)
    check(board, stages)   # before any worker process or job starts
    outcome = execute(plan, make_executor(executor, plan, jobs, cluster), stages, board=board)
    outcome.raise_failures()
    return outcome


__all__ = ["EXECUTORS", "Board", "Executor", "Job", "Outcome", "Result", "execute", "make_executor", "resolve_jobs",
           "run"]
