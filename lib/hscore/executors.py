"""Executors: run any part of a plan here in order, in N worker processes, or as Slurm job arrays.

- ``run_local(plan)``: this process, step after step, with a bar for the plan and one per run;
- ``run_local(plan, jobs=N)``: N worker processes (``spawn``); on a machine with GPUs each worker
  sees one of them (``CUDA_VISIBLE_DEVICES``, round robin), on a CPU the cores are split between
  the workers (``torch.set_num_threads``); each worker's run bar has its own terminal line;
- ``run_submitit(plan, cluster)``: one job array per stage through submitit (``backend="slurm"``,
  or ``"local"``: submitit's local executor, real subprocesses, for trying the path on one machine).
  A pre-empted or timed-out job is requeued by submitit and redoes its step; a failed job is
  redone by running the command again.

Every executor runs ``hscore.study.run_step``. The ``select`` steps (milliseconds) run in this
process when their scoring runs are done. A step is run by whoever holds its lock
(``hscore.store.step_lock``), so executors and invocations can overlap on one plan and each step
still trains once. Before anything trains, finished steps made with other settings stop the run
with the settings that differ (``check_stale``).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from filelock import Timeout
from tqdm import tqdm

from . import paths
from .config import ClusterConfig, ConfigError
from .errors import SlurmUnavailableError, StaleResultError, StepFailedError
from .plan import Plan, Step
from .results import step_state
from .store import atomic_write_json, read_record, settings_diff

EXECUTORS = ("local", "slurm", "submitit-local")


@dataclass
class Outcome:
    """What an executor did: step ids trained, found finished, failed (with the reason)."""

    trained: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def add(self, step: Step, record: dict) -> None:
        if step.stage == "select":  # not a run
            return
        (self.trained if record.get("ran") else self.finished).append(step.id)

    def raise_failures(self) -> None:
        if self.failed:
            lines = [f"{sid}: {why}" for sid, why in self.failed.items()]
            raise StepFailedError(f"{len(self.failed)} step(s) failed; finished steps are kept, run the same command "
                                  "again to redo the rest. " + " | ".join(lines))


def check_stale(plan: Plan) -> None:
    """Stop before training if a planned step's folder holds a run made with other settings."""
    stale = []
    for step in plan.steps:
        if step.stage != "select" and step_state(step) == "stale":
            diff = settings_diff(read_record(step.folder).get("identity", {}), step.settings())
            stale.append(f"{step.folder} ({'; '.join(d for d in diff if d.split(':')[0] in step.settings())})")
    if stale:
        more = f" and {len(stale) - 3} more" if len(stale) > 3 else ""
        raise StaleResultError(
            f"{len(stale)} finished run(s) were made with other settings: {' | '.join(stale[:3])}{more}. They are "
            f"kept, not reused: delete those folders, or every result of the profile with "
            f"`hscore clean --profile {plan.profile}`, to recompute them with the settings in study.yaml.")


def todo(plan: Plan, stages=None) -> list[Step]:
    """The plan's steps that still have to run (a pair's select step whenever any of its runs does)."""
    out = [s for s in plan.steps if (stages is None or s.stage in stages) and s.stage != "select"
           and step_state(s) != "done"]
    pairs = {s.pair for s in out}
    selects = [s for s in plan.stage("select") if (stages is None or "select" in stages)
               and (s.pair in pairs or step_state(s) != "done")]
    order = {s.id: i for i, s in enumerate(plan.steps)}
    return sorted(out + selects, key=lambda s: order[s.id])


def _deps_done(step: Step, plan: Plan, done: set[str]) -> bool:
    steps = plan.by_id()
    return all(d in done or step_state(steps[d]) == "done" for d in step.deps)


def _write_plan(plan: Plan, executor: str, extra: dict | None = None) -> None:
    atomic_write_json(paths.plan_file(plan.profile), {**plan.to_json(), "executor": executor, **(extra or {})})


# --- here, in order ----------------------------------------------------------------------------

def run_local(plan: Plan, jobs: int = 1, stages=None, poll_seconds: float = 2.0) -> Outcome:
    """Run the plan's unfinished steps here (``jobs == 1``) or in ``jobs`` worker processes."""
    check_stale(plan)
    steps = todo(plan, stages)
    _write_plan(plan, "local" if jobs == 1 else f"local --jobs {jobs}")
    if jobs > 1:
        return _run_pool(plan, steps, jobs, poll_seconds)
    from .study import run_step

    outcome, left = Outcome(), list(steps)
    bar = tqdm(total=sum(s.stage != "select" for s in steps), desc=f"{plan.profile}: runs", unit="run",
               position=0, dynamic_ncols=True)
    while left:
        runnable = [s for s in left if _deps_done(s, plan, set())]
        for step in runnable:
            bar.set_postfix_str(step.describe(), refresh=True)
            try:
                record = run_step(step, wait=False)
            except Timeout:  # another process is running it: come back to it
                continue
            left.remove(step)
            outcome.add(step, record)
            bar.update(step.stage != "select")
            break
        else:
            bar.set_postfix_str(f"waiting for another process ({len(left)} steps left)", refresh=True)
            time.sleep(poll_seconds)
    bar.close()
    return outcome


# --- worker processes --------------------------------------------------------------------------

def _gpus() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def resolve_jobs(jobs: str | int) -> int:
    """``--jobs``: a number >= 1, or ``auto``: one worker per GPU, else 2 on a CPU with 2 cores or more.

    On the 2-core CPU this package is built on, two workers with one thread each run phase 1 at
    1.24x the examples/s of one process with two threads (``benchmarks/engine.py``)."""
    if str(jobs) == "auto":
        gpus = _gpus()
        return len(gpus) if gpus else (2 if (os.cpu_count() or 1) >= 2 else 1)
    try:
        n = int(jobs)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"--jobs {jobs}: give a number of worker processes >= 1, or auto")
    return n


def _init_worker(slots, gpus: list[str], threads: int, lock) -> None:
    """Give this worker its slot: a GPU (or a share of the CPU threads) and a terminal line."""
    slot = slots.get()
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    os.environ["HSCORE_EXECUTOR"] = "local-jobs"
    import torch

    torch.set_num_threads(threads)
    tqdm.set_lock(lock)
    from . import train

    train.BAR_POSITION = slot + 1


def _work(step: Step) -> dict:
    from .study import run_step

    record = run_step(step)
    return {"ran": record.get("ran", False)}


def _run_pool(plan: Plan, steps: list[Step], jobs: int, poll_seconds: float) -> Outcome:
    from .study import run_step

    gpus = _gpus()
    threads = max(1, (os.cpu_count() or 1) // jobs)
    ctx = multiprocessing.get_context("spawn")
    slots, write_lock = ctx.Queue(), ctx.RLock()
    for i in range(jobs):
        slots.put(i)
    tqdm.set_lock(write_lock)  # one lock for every process's bars, so their lines do not interleave
    outcome, left, done, running, by_id, broken = Outcome(), list(steps), set(), {}, plan.by_id(), False
    bar = tqdm(total=sum(s.stage != "select" for s in steps), desc=f"{plan.profile}: runs ({jobs} workers)",
               unit="run", position=0, dynamic_ncols=True)
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(slots, gpus, threads, write_lock)) as pool:
        while (left or running) and not broken:
            for step in [s for s in left if _deps_done(s, plan, done)]:
                left.remove(step)
                if step.stage == "select":  # milliseconds: here, between the stages
                    run_step(step)
                    done.add(step.id)
                    continue
                running[pool.submit(_work, step)] = step
            if not running:
                if left:
                    time.sleep(poll_seconds)  # another invocation holds what these depend on
                continue
            finished, _ = wait(running, timeout=poll_seconds, return_when=FIRST_COMPLETED)
            for future in finished:
                step = running.pop(future)
                try:
                    outcome.add(step, future.result())
                    done.add(step.id)
                except BrokenProcessPool:
                    broken = True
                    outcome.failed[step.id] = "a worker process died (killed, or out of memory) while running it"
                except Exception as e:  # noqa: BLE001 - reported per step, the others go on
                    outcome.failed[step.id] = f"{type(e).__name__}: {e}"
                bar.update(1)
            blocked = {by_id[sid].pair for sid in outcome.failed if by_id[sid].stage == "score"}
            left = [s for s in left if s.pair not in blocked]  # what needs a failed scoring run waits for a rerun
        if broken:
            pool.shutdown(wait=False, cancel_futures=True)
    bar.close()
    outcome.raise_failures()
    return outcome


# --- Slurm (and submitit's local executor) -------------------------------------------------------

def submitit_parameters(cluster: ClusterConfig, name: str) -> dict:
    """The ``update_parameters`` of one stage's job array (AutoExecutor names; slurm_* only on Slurm)."""
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
    """One step as a submitit job; on pre-emption or timeout submitit requeues it (the step redoes)."""

    def __init__(self, executor: str):
        self.executor = executor

    def __call__(self, step: Step) -> dict:
        os.environ["HSCORE_EXECUTOR"] = self.executor
        from .study import run_step

        return {"ran": run_step(step).get("ran", False)}

    def checkpoint(self, step: Step):
        import submitit

        return submitit.helpers.DelayedSubmission(self, step)


def submit_stage(plan: Plan, steps: list[Step], cluster: ClusterConfig, backend: str, stage: str):
    """Submit one stage's steps as one job array; returns the submitit jobs (in the order of ``steps``)."""
    import submitit

    try:
        executor = submitit.AutoExecutor(folder=paths.slurm_dir(plan.profile) / "%j", cluster=backend)
    except RuntimeError as e:  # no sbatch/srun on this machine
        raise SlurmUnavailableError(
            f"cannot submit to Slurm from this machine ({e}); run `hscore run --executor slurm` on the cluster's "
            "login node, or try the same path here with --executor submitit-local") from None
    executor.update_parameters(**submitit_parameters(cluster, f"hscore-{plan.profile}-{stage}"))
    jobs = executor.map_array(StepJob("slurm" if backend == "slurm" else "submitit-local"), steps)
    record = paths.slurm_dir(plan.profile) / f"jobs-{stage}-{int(time.time())}.json"
    atomic_write_json(record, {step.id: job.job_id for step, job in zip(steps, jobs)})
    return jobs


def _watch(jobs, steps: list[Step], stage: str, poll_seconds: float, outcome: Outcome) -> None:
    """Wait for a stage's jobs, with a bar of their states; collect results and failures."""
    bar = tqdm(total=len(jobs), desc=f"{stage}: jobs", unit="job", position=0, dynamic_ncols=True)
    pending = dict(zip(jobs, steps))
    while pending:
        for job in [j for j in pending if j.done()]:
            step = pending.pop(job)
            try:
                outcome.add(step, job.result())
            except Exception as e:  # noqa: BLE001 - a failed job, reported with its log
                outcome.failed[step.id] = f"job {job.job_id} failed ({str(e).strip().splitlines()[-1][:200]}); " \
                                          f"log: {job.paths.stderr}"
            bar.update(1)
        if pending:
            states = {}
            for job in pending:
                states[job.state] = states.get(job.state, 0) + 1
            bar.set_postfix_str(", ".join(f"{k.lower()} {v}" for k, v in sorted(states.items())), refresh=True)
            time.sleep(poll_seconds)
    bar.close()


def run_submitit(plan: Plan, cluster: ClusterConfig, backend: str = "slurm", stages=None,
                 poll_seconds: float = 15.0) -> Outcome:
    """Run the plan's unfinished steps as one job array per stage (scoring runs, then phase 2); the
    select steps run here between them. This process waits for the jobs and shows their states."""
    from .study import run_step

    check_stale(plan)
    _write_plan(plan, backend, {"cluster": cluster.model_dump()})
    outcome = Outcome()
    for stage in ("score", "finetune"):
        if stages is not None and stage not in stages:
            continue
        if stage == "finetune":
            for step in todo(plan, ("select",)):
                if _deps_done(step, plan, set()):
                    run_step(step)
        steps = [s for s in todo(plan, (stage,)) if _deps_done(s, plan, set())]
        if steps:
            _watch(submit_stage(plan, steps, cluster, backend, stage), steps, stage, poll_seconds, outcome)
        outcome.raise_failures()
    return outcome
