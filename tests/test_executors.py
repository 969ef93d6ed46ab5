"""Executors: worker processes, submitit (its local executor: real subprocesses), Slurm submission,
killed workers and concurrent invocations, all on the tiny profile (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from hscore import config, paths
from hscore.__main__ import main
from hscore.study import executors, plan
from hscore.study.executors.base import Job
from hscore.study.executors.slurm import SlurmExecutor
from hscore.study.results import PairResults
from hscore.study.run import Board, PairRuns
from hscore.study.store import held


def _records(profile="tiny"):
    """Every finished run's record (scoring and phase-2 runs), by step id."""
    built = plan.build(profile, check_writable=False)
    out = {}
    for step in built.steps:
        if not step.derived and (step.folder / "step.json").exists():
            out[step.id] = json.loads((step.folder / "step.json").read_text())
    return built, out


def _snapshot(profile="tiny"):
    """What the study computed: each run's dynamics and evaluation scores."""
    built, records = _records(profile)
    out = {}
    for step in built.steps:
        if step.stage == "score":
            with np.load(step.folder / "dynamics.npz") as f:
                out[step.id] = (f["correct"].copy(), f["gold_prob"].copy(), records[step.id]["eval"])
        elif step.stage == "finetune" and not records[step.id].get("empty"):
            out[step.id] = json.loads((step.folder / "metrics.json").read_text())["eval"]
    return out


def _flat(scores: dict) -> dict:
    return {(split, metric): v for split, by_metric in scores.items() for metric, v in by_metric.items()}


def _same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], tuple):
            np.testing.assert_array_equal(a[key][0], b[key][0])
            np.testing.assert_allclose(a[key][1], b[key][1], atol=1e-5)
            assert _flat(a[key][2]) == pytest.approx(_flat(b[key][2]))
        else:
            assert _flat(a[key]) == pytest.approx(_flat(b[key]))


@pytest.mark.slow
def test_two_workers_give_the_results_of_one_process(study_file, results_dir, monkeypatch):
    study_file()
    assert main(["run", "--profile", "tiny"]) == 0
    one = _snapshot()
    _, records = _records()
    assert {r["worker"]["executor"] for r in records.values()} == {"local"}

    monkeypatch.setenv("HSCORE_RESULTS_DIR", str(results_dir.parent / "results-jobs"))
    assert main(["run", "--profile", "tiny", "--jobs", "2"]) == 0
    _same(one, _snapshot())
    _, records = _records()
    assert {r["worker"]["executor"] for r in records.values()} == {"local-jobs"}
    assert len({r["worker"]["pid"] for r in records.values()}) == 2 and os.getpid() not in \
        {r["worker"]["pid"] for r in records.values()}


@pytest.mark.slow
def test_submitit_local_executor_runs_the_plan_end_to_end(study_file, results_dir):
    study_file()
    built = plan.build("tiny")
    cluster = config.cluster_config("tiny", gpus_per_task=0, cpus_per_task=1, mem_gb=2, time_min=10)
    outcome = executors.run(built, "submitit-local", cluster=cluster)
    runs = [s for s in built.steps if not s.derived]
    assert sorted(outcome.trained) == sorted(s.id for s in runs) and not outcome.failed
    _, records = _records()
    assert all(r["worker"]["executor"] == "submitit-local" for r in records.values())
    assert len({r["worker"]["pid"] for r in records.values()}) == len(runs)   # one subprocess per job
    pair = PairResults(built.configs[0])
    assert not pair.phase2().empty and pair.ignored() == []
    jobs = {}
    for f in paths.slurm_dir("tiny").glob("jobs-*.json"):
        jobs.update(json.loads(f.read_text()))
    assert set(jobs) == {s.id for s in runs}                 # which job ran which run
    assert {f.name.split("-")[1] for f in paths.slurm_dir("tiny").glob("jobs-*.json")} == {"score", "finetune"}
    again = executors.run(built, "submitit-local", cluster=cluster)
    assert again.trained == [] and again.finished == []      # nothing left: no job submitted


def test_slurm_submission_parameters(study_file, tmp_path, monkeypatch):
    """No Slurm here: a fake ``sbatch`` records what submitit would submit for the scoring stage."""
    study_file(lambda d: d.update(cluster={"partition": "gpu", "time_min": 300, "mem_gb": 48,
                                           "setup": ["module load cuda/12.4"]}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "sbatch.log"
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(f"#!/bin/sh\ncat \"$1\" >> {log}\necho 'Submitted batch job 4242'\n")
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")        # submitit looks for it before submitting
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    built = plan.build("tiny")
    cluster = config.cluster_config("tiny", cpus_per_task=4, max_parallel=2)   # command-line overrides
    board = Board(built)
    steps = [s for s in built.steps if s.stage == "score"]
    slurm = SlurmExecutor("tiny", cluster, "slurm")
    slurm.start([Job(s, board.run(s).identity) for s in steps])
    jobs = list(slurm.pending)
    assert [j.job_id for j in jobs] == ["4242_0", "4242_1", "4242_2"]
    script = log.read_text()
    for line in ("#SBATCH --array=0-2%2", "#SBATCH --partition=gpu", "#SBATCH --time=300", "#SBATCH --mem=48GB",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --gpus-per-node=1", "#SBATCH --job-name=hscore-tiny-score",
                 "module load cuda/12.4"):
        assert line in script
    recorded = json.loads(next(paths.slurm_dir("tiny").glob("jobs-score-*.json")).read_text())
    assert recorded == {s.id: j.job_id for s, j in zip(steps, jobs)}


def test_cluster_settings_are_validated_when_the_study_loads(study_file, capsys):
    """A cluster section with wrong types is one line for every command, the local executor's too."""
    study_file(lambda d: d.update(cluster={"time_min": "long"}))
    with pytest.raises(config.ConfigError, match="cluster.time_min = 'long'"):
        config.load_study()
    study_file(lambda d: d.update(cluster={"gpu": 1}))
    for command in (["run", "--profile", "tiny", "--executor", "slurm"], ["run", "--profile", "tiny"],
                    ["plan", "--profile", "tiny"]):
        rc = main(command)
        err = capsys.readouterr().err
        assert rc == 2 and "cluster.gpu" in err and err.count("\n") == 1


def test_slurm_without_slurm_is_one_line(study_file, capsys, monkeypatch, tmp_path):
    study_file()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin") + os.pathsep + os.path.dirname(sys.executable))
    rc = main(["run", "--profile", "tiny", "--executor", "slurm"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot submit to Slurm from this machine" in err and "submitit-local" in err
    assert err.count("\n") == 1


def _hscore(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "hscore", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


@pytest.mark.slow
def test_two_concurrent_invocations_train_each_step_once(study_file):
    study_file()
    first, second = _hscore("run", "--profile", "tiny"), _hscore("run", "--profile", "tiny")
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == second.returncode == 0, outs
    trained = [int(out.split("] ")[-1].split(" runs trained")[0]) for out, _ in outs]
    built, records = _records()
    runs = [s for s in built.steps if not s.derived]
    assert sum(trained) == len(runs) == len(records)         # every run trained, none twice
    assert {r["worker"]["pid"] for r in records.values()} <= {first.pid, second.pid}


@pytest.mark.slow
def test_a_killed_worker_is_redone_on_resume(study_file):
    """Kill one worker of ``--jobs 2`` while it trains: the invocation reports it in one line, the
    killed run has no record, and running again redoes it and nothing that had finished."""
    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(
        train_cap=200, phase1={"seeds": [1, 2, 3], "epochs": 3, "lr": 1.0e-4, "batch_size": 4}))
    psutil = pytest.importorskip("psutil")
    proc = _hscore("run", "--profile", "tiny", "--jobs", "2")
    cfg = config.pair_config("tiny", "tiny-bert", "rotten_tomatoes")
    lock = paths.lock_file(paths.phase1_run_dir(cfg.results_dir, 0))
    deadline = time.time() + 300
    while time.time() < deadline and not held(paths.phase1_run_dir(cfg.results_dir, 0)):
        time.sleep(0.05)
    assert lock.exists(), proc.communicate()
    victim = next(c for c in psutil.Process(proc.pid).children(recursive=True)
                  if any(f.path == str(lock) for f in c.open_files()))
    victim.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 2 and "worker process died" in err and err.count("hscore: error") == 1
    assert PairRuns(cfg)["phase1/run-0"].state == "pending"   # no record, lock released
    _, before = _records()

    assert main(["run", "--profile", "tiny"]) == 0
    _, after = _records()
    assert "tiny-bert/rotten_tomatoes/phase1/run-0" in after
    for sid, record in before.items():                        # finished runs were not redone
        assert after[sid]["finished"] == record["finished"] and after[sid]["worker"] == record["worker"]


def test_an_idle_worker_that_died_is_replaced_before_its_next_job(capsys):
    """A worker killed while it waits for work (out of memory, a stray ``kill``) ran nothing: the next
    job goes to a fresh worker instead of failing the invocation on a broken pipe."""
    from hscore.study.executors.pool import PoolExecutor

    pool = PoolExecutor(1)
    try:
        dead = pool.slots[0]["process"]
        dead.kill()
        dead.join(10)
        pool.start([Job(step=None, identity={})])         # no Step: the worker answers with a failure
        results = []
        deadline = time.monotonic() + 120
        while not results and time.monotonic() < deadline:
            results = pool.wait(1.0)
        assert len(results) == 1 and results[0].error and "died" not in results[0].error
        assert pool.slots[0]["process"].pid != dead.pid and pool.slots[0]["process"].is_alive()
        assert "an idle worker process died" in capsys.readouterr().err
    finally:
        pool.close()
