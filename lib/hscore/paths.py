"""Every file location the study reads or writes; no other module builds a path.

Layout of one model-task pair's results (``results/<profile>/<model>/<task>/``); every folder is
one step of the plan (``hscore.study.plan``) and holds its ``step.json``, written last::

    phase1/run-<r>/dynamics.npz   training dynamics of scoring run r (schema: hscore.dynamics)
    phase1/run-<r>/predictions.npz  its per-example evaluation: "<split>|<field>" arrays (example_id,
                                  label and prediction, or per-example metric values; hscore.engine.kinds)
    phase1/run-<r>/step.json      its identity (settings, data fingerprints), the checksum of every file
                                  above, seed, device, wall time, versions, who ran it (host, process, job)
    phase1/.run-<r>.lock          held while a process runs that step (hscore.study.store.step_lock)
    variants/<name>/run-<r>/      a scoring run of the pair at another phase-1 setting (``variants:`` in
                                  study.yaml), the same files as phase1/run-<r>/
    crossval/fold-<k>/heldout.npz  cleanlab's cross-validation (``cleanlab_folds``): the probabilities of the
                                  rows of fold k (``positions``, ``probs``) by a model trained on the other folds
    select/scores.parquet         one row per scoring unit: H, success rate, cartography, baseline scores
    select/subsets.npz, .json     positions of every subset and baseline (keys: ``subset_key``), sizes,
                                  the cheaper scoring chosen (hscore.pruning.cheaper)
    phase2/<method>--<subset>--<seed>/metrics.json   one fine-tuning run of phase 2 (+ predictions.npz,
                                  step.json); method ``cheaper`` is the cheaper scoring's ticket
    tables/phase1.parquet, tables/phase2.parquet   every current run's evaluation scores in one table

The pair's manifest (configuration, versions, every step's record) is gathered from the
``step.json`` files on read (``hscore.study.results``): there is no shared file two workers
could both rewrite. ``results/<profile>/plan.json`` is the last plan run, ``slurm/`` submitit's
logs. Folder names hold plain ids only (``check_name``); seeds, hyperparameters and versions live
inside the files.
``HSCORE_RESULTS_DIR`` moves the results root (the tests use it); the default is ``results/``
beside ``study.yaml``. Data downloaded for offline tasks (the ``bigbench`` archive) is cached in
``data_dir()``. Executed notebooks go to ``book/executed/<profile>/``, named from their
parameters (``<model>--<task>--scoring.ipynb``), where the book picks them up.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
STEP_FILE = "step.json"        # a finished step's record (hscore.study.store), written last
RUN_FILE = "dynamics.npz"      # a scoring run's training dynamics (hscore.dynamics)
KEYS_FILE = "example_keys.json"     # beside a recorded run's dynamics.npz when its example ids are strings
ROW_HASHES_FILE = "row_hashes.npz"   # beside a recorded run's dynamics.npz: per column, a hash of every training row
METRICS_FILE = "metrics.json"  # a phase-2 run's evaluation scores
ORDERS_FILE = "epoch_orders.npz"    # beside a recorded run's dynamics.npz: the order of every epoch (the Trainer
                                    # reshuffles; hscore.engine.recorder)
RUNS_FILE = "runs.json"             # beside hscore select's files: the runs stacked, in order, and the notes
REPORT_FILE = "report.md"           # hscore prune's report, beside its scores table and subsets (pruned/)
PREDICTIONS_FILE = "predictions.npz"  # a run's per-example evaluation ("split|field" -> array; hscore.study.results)
STUDY_FILE = REPO / "study.yaml"
NOTEBOOKS = REPO / "notebooks"
BENCHMARKS = REPO / "benchmarks"
TRAINER_BENCHMARKS = BENCHMARKS / "trainer"   # benchmarks/trainer_engine.py's records, which the book shows


def env(name: str) -> str | None:
    """The environment variable ``name``, or None when it is unset or empty (white space only): an
    empty ``HSCORE_RESULTS_DIR=`` means the default, never the current folder."""
    value = os.environ.get(name)
    return value if value is not None and value.strip() else None


def study_file() -> Path:
    """The study configuration (``HSCORE_STUDY_FILE`` points at another one, e.g. your own copy)."""
    return Path(env("HSCORE_STUDY_FILE") or STUDY_FILE).resolve()


def book_dir() -> Path:
    """The Jupyter Book's source folder (``HSCORE_BOOK_DIR`` moves it; the tests build a copy)."""
    return Path(env("HSCORE_BOOK_DIR") or REPO / "book").resolve()


def data_dir() -> Path:
    """Downloaded data archives and the files extracted from them (``HSCORE_DATA_DIR`` moves it; the
    default is ``$XDG_CACHE_HOME/hscore``, i.e. ``~/.cache/hscore``, shared by every clone)."""
    default = Path(env("XDG_CACHE_HOME") or Path.home() / ".cache") / "hscore"
    return Path(env("HSCORE_DATA_DIR") or default).resolve()


def results_root() -> Path:
    """The folder holding every profile's results."""
    return Path(env("HSCORE_RESULTS_DIR") or REPO / "results").resolve()


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # profile, model and task names: one plain folder name each


def check_name(name: str, what: str = "name") -> str:
    """``name`` when it is a plain folder name (letters, digits, ``_``, ``.``, ``-``; not ``.`` or
    ``..``), else a ``ConfigError``: names become folders, and must not reach outside them."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or set(name) <= {"."}:
        raise ConfigError(f"{what} {name!r} is not a plain name: use letters, digits, '_', '.' and '-', "
                          "starting with a letter or digit")
    return name


def inside(folder: Path, root: Path) -> Path:
    """``folder`` resolved, after checking that it lies strictly inside ``root`` (resolved too)."""
    folder, root = Path(folder).resolve(), Path(root).resolve()
    if folder == root or root not in folder.parents:
        raise ConfigError(f"{folder} is not inside {root}; refusing to touch it")
    return folder


def profile_dir(profile: str) -> Path:
    return inside(results_root() / check_name(profile, "profile"), results_root())


def pair_dir(profile: str, model: str, task: str) -> Path:
    return profile_dir(profile) / check_name(model, "model") / check_name(task, "task")


def phase1_run_dir(pair: Path, run: int) -> Path:
    return pair / "phase1" / f"run-{run}"


def variant_run_dir(pair: Path, variant: str, run: int) -> Path:
    """Scoring run r of the pair at the phase-1 setting ``variant``."""
    return pair / "variants" / check_name(variant, "variant") / f"run-{run}"


def fold_run_dir(pair: Path, fold: int) -> Path:
    """Cross-validation run k of the pair (``cleanlab_folds``): trained on every fold but k."""
    return pair / "crossval" / f"fold-{fold}"


HELDOUT_FILE = "heldout.npz"   # a fold run's out-of-sample probabilities: positions, probs [n, C]


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


SCORES_FILE = "scores.parquet"    # the select step's scores table
SUBSETS_FILES = ("subsets.npz", "subsets.json")  # the select step's positions and their table
PHASE1_TABLE = "phase1.parquet"   # the tables step's exports
PHASE2_TABLE = "phase2.parquet"


def select_dir(pair: Path) -> Path:
    """The select step's folder: scores and subsets, computed from the scoring runs."""
    return pair / "select"


def tables_dir(pair: Path) -> Path:
    """The tables step's folder: the pair's current runs as tables."""
    return pair / "tables"


def scores_file(pair: Path) -> Path:
    return select_dir(pair) / SCORES_FILE


def subsets_files(pair: Path) -> tuple[Path, Path]:
    return tuple(select_dir(pair) / name for name in SUBSETS_FILES)


def executed_dir(profile: str) -> Path:
    """Where papermill writes the executed notebooks that the book renders."""
    return inside(book_dir() / "executed" / check_name(profile, "profile"), book_dir() / "executed")


def executed_notebook(profile: str, name: str, model: str | None = None, task: str | None = None) -> Path:
    """An executed notebook, named from its parameters."""
    stem = name if model is None else f"{model}--{task}--{name}"
    return executed_dir(profile) / f"{stem}.ipynb"
