"""Every file location the study reads or writes; no other module builds a path.

Layout of one model-task pair's results (``results/<profile>/<model>/<task>/``)::

    phase1/run-<r>/dynamics.npz   training dynamics of scoring run r (schema: hscore.dynamics)
    phase1/run-<r>/step.json      its identity (settings + data fingerprints), checksums, seed, device,
                                  wall time, versions, and who ran it (host, process, Slurm job)
    phase1/run-<r>/predictions.npz  its per-example evaluation: "<split>|<field>" arrays (example_id,
                                  label and prediction, or per-example metric values; hscore.kinds.base)
    phase1/.run-<r>.lock          held while a process runs that step (hscore.store.step_lock)
    scores.parquet                one row per scoring unit: H, success rate, cartography
    subsets.npz, subsets.json     positions of every subset and baseline (keys: ``subset_key``), sizes,
                                  the cheaper scoring chosen (hscore.cheaper)
    phase2/<method>--<subset>--<seed>/metrics.json   one fine-tuning run of phase 2 (+ predictions.npz,
                                  step.json); method ``cheaper`` is the cheaper scoring's ticket
    phase2.parquet                the plan's phase-2 results in one table

The pair's manifest (configuration, versions, every step's record) is gathered from the
``step.json`` files on read (``hscore.results.manifest``): there is no shared file two workers
could both rewrite. ``results/<profile>/plan.json`` is the last plan run, ``slurm/`` submitit's
logs. Folder names hold plain ids only; seeds, hyperparameters and versions live inside the files.
``HSCORE_RESULTS_DIR`` moves the results root (the tests use it); the default is ``results/``
beside ``study.yaml``. Data downloaded for offline tasks (the ``bigbench`` archive) is cached in
``data_dir()``. Executed notebooks go to ``book/executed/<profile>/``, named from their
parameters (``<model>--<task>--scoring.ipynb``), where the book picks them up.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STEP_FILE = "step.json"        # a finished step's record (hscore.store), written last
RUN_FILE = "dynamics.npz"      # a scoring run's training dynamics (hscore.dynamics)
METRICS_FILE = "metrics.json"  # a phase-2 run's evaluation scores
PREDICTIONS_FILE = "predictions.npz"  # a run's per-example evaluation ("split|field" -> array; hscore.results)
STUDY_FILE = REPO / "study.yaml"
NOTEBOOKS = REPO / "notebooks"


def study_file() -> Path:
    """The study configuration (``HSCORE_STUDY_FILE`` points at another one, e.g. your own copy)."""
    return Path(os.environ.get("HSCORE_STUDY_FILE", STUDY_FILE)).resolve()


def book_dir() -> Path:
    """The Jupyter Book's source folder (``HSCORE_BOOK_DIR`` moves it; the tests build a copy)."""
    return Path(os.environ.get("HSCORE_BOOK_DIR", REPO / "book")).resolve()


def data_dir() -> Path:
    """Downloaded data archives and the files extracted from them (``HSCORE_DATA_DIR`` moves it; the
    default is ``$XDG_CACHE_HOME/hscore``, i.e. ``~/.cache/hscore``, shared by every clone)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hscore"
    return Path(os.environ.get("HSCORE_DATA_DIR", default)).resolve()


def results_root() -> Path:
    """The folder holding every profile's results."""
    return Path(os.environ.get("HSCORE_RESULTS_DIR", REPO / "results")).resolve()


def profile_dir(profile: str) -> Path:
    return results_root() / profile


def pair_dir(profile: str, model: str, task: str) -> Path:
    return profile_dir(profile) / model / task


def phase1_run_dir(pair: Path, run: int) -> Path:
    return pair / "phase1" / f"run-{run}"


def phase2_run_dir(pair: Path, method: str, subset: str, seed: int) -> Path:
    return pair / "phase2" / phase2_folder_name(method, subset, seed)


def phase2_folder_name(method: str, subset: str, seed: int) -> str:
    return f"{method}--{subset}--{seed}"


def subset_key(method: str, subset: str, seed: int | None = None) -> str:
    """The key of a subset's positions in ``subsets.npz``: ``hscore/remove-0-6``, and with its seed
    for a baseline drawn per seed: ``random/remove-0-6/6666``."""
    return f"{method}/{subset}" + ("" if seed is None else f"/{seed}")


def lock_file(step_folder: Path) -> Path:
    """Beside the step's folder (``phase1/.run-0.lock``), so the folder holds results only."""
    step_folder = Path(step_folder)
    return step_folder.parent / f".{step_folder.name}.lock"


def plan_file(profile: str) -> Path:
    return profile_dir(profile) / "plan.json"


def slurm_dir(profile: str) -> Path:
    """submitit's job scripts, pickled steps and logs (``%j`` = job id)."""
    return profile_dir(profile) / "slurm"


def scores_file(pair: Path) -> Path:
    return pair / "scores.parquet"


def subsets_files(pair: Path) -> tuple[Path, Path]:
    return pair / "subsets.npz", pair / "subsets.json"


def phase2_table(pair: Path) -> Path:
    return pair / "phase2.parquet"


def summary_table(profile: str) -> Path:
    return profile_dir(profile) / "summary.csv"


def executed_dir(profile: str) -> Path:
    """Where papermill writes the executed notebooks that the book renders."""
    return book_dir() / "executed" / profile


def executed_notebook(profile: str, name: str, model: str | None = None, task: str | None = None) -> Path:
    """An executed notebook, named from its parameters."""
    stem = name if model is None else f"{model}--{task}--{name}"
    return executed_dir(profile) / f"{stem}.ipynb"
