"""Peak memory of one process that trains many runs: does a finished run leave anything alive?

Three measurements, each in a fresh process of its own (``python -m hscore ...`` or a short script),
its peak resident set size read from the operating system (that process's own maximum RSS, from
``wait4``):

- ``runs``: one pair's phase-2 runs, one after another in one process (``hscore.study.steps``'s own
  ``_fine_tune_run``, the smoke profile's first pair, its 64 training rows), the RSS after each run;
  a leak shows as growth run after run, nothing leaked as a flat line after the first;
- ``one run``: the peak of a process that prepares one pair and trains one run, for each of the
  smoke profile's pairs (QA and multiple choice need the most); the largest is "one run's peak";
- ``profile``: the whole smoke profile in one process (``hscore run --profile smoke --jobs 1``, a
  fresh results folder, 4 pairs, 198 steps): its peak against one run's. Its seconds are only
  informative (the machine may be busy).

``--lib DIR`` measures another checkout's ``lib`` (the code before a change) with the same data and
that checkout's own ``study.yaml``. Results are appended to ``benchmarks/memory.jsonl`` with the date,
the code's commit and the versions; ``benchmarks/README.md`` quotes them.

    python benchmarks/memory.py [--lib OTHER/lib] [--label before] [--runs 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "memory.jsonl"

RUNS_SCRIPT = """
import json, resource, sys
import numpy as np
import torch
from hscore import config
from hscore.engine.prepared import prepare
from hscore.study import steps
cfg = config.pair_config("smoke", "minilm", sys.argv[2])
data = prepare(cfg)
rows = np.arange(len(data.train))
for i in range(int(sys.argv[1])):
    steps._fine_tune_run(data, rows, "phase2", 6666 + i, torch.device("cpu"), False, "run", None)
    print(json.dumps({"run": i + 1, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}),
          flush=True)
"""


def _peak_of(command: list[str], env: dict) -> tuple[float, str, float]:
    """(peak RSS in MB of the command's process, its stdout, its wall seconds); it must succeed. The
    peak is that process's own (``wait4``), not the largest of every child so far."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {stderr[-2000:]}")
    return usage.ru_maxrss / 1024, stdout, seconds


def _env(lib: Path, study_file: Path, results: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSCORE_")}
    env.update(PYTHONPATH=str(lib), HSCORE_STUDY_FILE=str(study_file), HSCORE_RESULTS_DIR=str(results),
               PYTHONUNBUFFERED="1", TQDM_DISABLE="1")
    if os.environ.get("HSCORE_DATA_DIR"):
        env["HSCORE_DATA_DIR"] = os.environ["HSCORE_DATA_DIR"]
    return env


def measure(lib: Path, runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = yaml.safe_load((lib.parent / "study.yaml").read_text())   # the checkout's own
        study_file = tmp / "study.yaml"
        study_file.write_text(yaml.safe_dump(study, sort_keys=False))
        env = _env(lib, study_file, tmp / "results")

        def after_each_run(task: str, n: int) -> list[int]:
            _, out, _ = _peak_of([sys.executable, "-c", RUNS_SCRIPT, str(n), task], env)
            return [round(json.loads(line)["rss_mb"]) for line in out.splitlines() if line.startswith("{")]

        per_run = after_each_run("rotten_tomatoes", runs)
        first_run = {task: after_each_run(task, 1)[0] for task in study_tasks(study)}
        profile_peak, _, profile_seconds = _peak_of([sys.executable, "-m", "hscore", "run", "--profile", "smoke",
                                                     "--jobs", "1"], env)
    return {"rss_mb_after_each_phase2_run": per_run, "growth_mb_per_run_after_the_first":
            round((per_run[-1] - per_run[0]) / max(len(per_run) - 1, 1), 1),
            "one_run_peak_mb_per_pair": first_run, "one_run_peak_mb": max(first_run.values()),
            "smoke_profile_one_process_peak_mb": round(profile_peak), "smoke_profile_seconds": round(profile_seconds)}


def study_tasks(study: dict) -> list[str]:
    """The tasks of the smoke profile's pairs, in order."""
    return [pair["task"] for pair in study["profiles"]["smoke"]["pairs"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", type=Path, default=REPO / "lib", help="the library to measure (default: this one)")
    parser.add_argument("--label", default="after", help="what the record is (before, after, ...)")
    parser.add_argument("--runs", type=int, default=8, help="phase-2 runs in one process")
    args = parser.parse_args()
    lib = args.lib.resolve()
    commit = subprocess.run(["git", "-C", str(lib), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    import torch
    import transformers
    record = {"label": args.label, "date": time.strftime("%Y-%m-%d"), "commit": commit,
              "dirty": bool(subprocess.run(["git", "-C", str(lib), "status", "--porcelain", "lib"],
                                           capture_output=True, text=True).stdout.strip()),
              "machine": f"{os.cpu_count()}-core {os.uname().machine} CPU",
              "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
              **measure(lib, args.runs)}
    print(json.dumps(record, indent=1))
    with OUT.open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
