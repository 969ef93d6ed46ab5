"""Slurm job arrays through submitit (``backend="slurm"``), or submitit's local executor
(``"local"``: real subprocesses, for trying the path on one machine).

Every batch of steps the scheduler finds ready (the scoring runs, then the phase-2 runs) is one
job array; this process waits for the jobs and shows their states. A pre-empted or timed-out job is
requeued by submitit and redoes its step; a failed job is redone by running the command again. On
Ctrl-C the jobs already submitted keep running on the cluster (their ids are in
``results/<profile>/slurm/jobs-*.json``; ``scancel`` stops them).
"""

from __future__ import annotations

import os
import time

from ... import paths
from ...config import ClusterConfig
from ...errors import SlurmUnavailableError
from ...files import atomic_write_json
from .base import Executor, Job, Result


def submitit_parameters(cluster: ClusterConfig, name: str) -> dict:
    """The ``update_parameters`` of one job array (AutoExecutor names; slurm_* only on Slurm)."""
    params = {"name": name, "timeout_min": cluster.time_min, "gpus_per_node": cluster.gpus_per_task,
              "cpus_per_task": cluster.cpus_per_task, "mem_gb": cluster.mem_gb, "tasks_per_node": 1, "nodes": 1,
              "slurm_array_parallelism": cluster.max_parallel}
    for key in ("partition", "account", "qos"):
        if getattr(cluster, key):
            params[f"slurm_{key}"] = getattr(cluster, key)
    if cluster.setup:
        params["slurm_setup"] = list(cluster.setup)
    return params


class StepJob:
    """One job as a submitit callable; on pre-emption or timeout submitit requeues it (the step redoes)."""

    def __init__(self, executor: str):
        self.executor = executor

    def __call__(self, job: Job) -> dict:
        os.environ["HSCORE_EXECUTOR"] = self.executor
        from ..steps import run_step  # in the job's process: torch loads there, not where jobs are submitted

        record, ran = run_step(job.step, job.identity)
        return {"record": record, "ran": ran}

    def checkpoint(self, job: Job):
        import submitit

        return submitit.helpers.DelayedSubmission(self, job)


class SlurmExecutor(Executor):
    def __init__(self, profile: str, cluster: ClusterConfig, backend: str = "slurm", poll_seconds: float = 15.0):
        self.profile, self.cluster, self.backend, self.poll = profile, cluster, backend, poll_seconds
        self.name = "slurm" if backend == "slurm" else "submitit-local"
        self.pending: dict = {}   # submitit job -> our Job
        import submitit  # only for this executor

        try:
            self.executor = submitit.AutoExecutor(folder=paths.slurm_dir(profile) / "%j", cluster=backend)
        except RuntimeError as e:  # no sbatch/srun on this machine
            raise SlurmUnavailableError(
                f"cannot submit to Slurm from this machine ({e}); run `hscore run --executor slurm` on the cluster's "
                "login node, or try the same path here with --executor submitit-local") from None

    def free(self) -> int:
        return 1 << 30

    def start(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        stage = jobs[0].step.stage
        self.executor.update_parameters(**submitit_parameters(self.cluster, f"hscore-{self.profile}-{stage}"))
        submitted = self.executor.map_array(StepJob(self.name), jobs)
        record = paths.slurm_dir(self.profile) / f"jobs-{stage}-{int(time.time())}.json"
        atomic_write_json(record, {job.step.id: s.job_id for job, s in zip(jobs, submitted)})
        self.pending.update(zip(submitted, jobs))

    def wait(self, timeout: float) -> list[Result]:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            out = []
            for submitted in [j for j in self.pending if j.done()]:
                job = self.pending.pop(submitted)
                try:
                    result = submitted.result()
                    out.append(Result(job, result["record"], result["ran"]))
                except Exception as e:  # noqa: BLE001 - a failed job, reported with its log
                    out.append(Result(job, error=f"job {submitted.job_id} failed "
                                                 f"({str(e).strip().splitlines()[-1][:200]}); log: "
                                                 f"{submitted.paths.stderr}"))
            if out or not self.pending or time.monotonic() >= deadline:
                return out
            time.sleep(min(self.poll, max(0.0, deadline - time.monotonic())))

    def states(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for submitted in self.pending:
            counts[submitted.state] = counts.get(submitted.state, 0) + 1
        return counts

    def describe(self) -> str:
        states = self.states()
        return ", ".join(f"{k.lower()} {v}" for k, v in sorted(states.items())) or self.name
