"""Selection from any recorded runs: ``hscore select RUN_DIR...`` and ``hscore.select([...])``.

A run folder is the dynamics file contract (``hscore.dynamics``): ``dynamics.npz`` and its
``step.json`` (``hscore.records``), as a user's own Hugging Face ``Trainer`` run writes it through the
recorder (``hscore.engine.recorder``), as the study's scoring runs hold it (``phase1/run-<r>/``), or as
any trainer that writes the contract does. ``select`` stacks R such runs (R >= 2), after checking that
they are what an H-score needs, each failure one ``RunsMismatchError`` line naming the runs:

- every folder once, each finished (``step.json``) and intact (the sizes and checksums written with
  its files);
- the same training rows: the same number, the same example ids in the same order (string ids too,
  ``example_keys.json``), the same row index within each example, the same labels and targets;
- the same number of recorded epochs.

Runs whose data fingerprints differ while ids and labels agree (another tokenisation, a text changed)
are stacked with a note. The selection itself is the study's (``hscore.study.selection.select``):
the scores table, the H-score subsets, their size-matched baselines and, on request, the cheaper
scoring's ticket, with the settings given as arguments instead of a study.yaml.

``Selected.to_dataset(train_dataset)`` returns the user's ``datasets.Dataset`` with the score columns
added (every original column kept; rows matched by position, or by the example id column where the
scores are per example); ``subset_dataset`` / ``subset_datasets`` give the winning ticket and every
subset as ``Dataset.select(...)`` views, which ``save_to_disk`` or ``push_to_hub`` store as usual.
``write`` puts the study's select files (``scores.parquet``, ``subsets.npz``, ``subsets.json``) and a
``step.json`` in a folder. No torch is imported; ``datasets`` only by the dataset methods.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..dynamics import RunDynamics, TrainingDynamics
from ..errors import ConfigError, HScoreError
from ..files import atomic_write_json, plain
from ..pruning.baselines import BASELINES, get_baseline
from ..pruning.scores import h_histogram
from ..records import STEP_FILE, finish_step, read_record, verify
from . import selection
from .run import SELECT_CODE

KEYS_FILE = "example_keys.json"   # beside dynamics.npz when a run's example ids are strings (the recorder's)
RUNS_FILE = "runs.json"           # beside the select files: the runs stacked, in order, and the notes
SCORE_COLUMNS = ("h", "success_rate", "confidence", "variability", "correctness", "forgetting", "el2n",
                 "el2n_train_step", "dynamic_uncertainty", "aum")
TICKET = "winning_ticket"         # the subset name that means the winning ticket, whatever R is


class RunsMismatchError(HScoreError, ValueError):
    """The runs given to ``select`` cannot be stacked (other rows, labels, epochs; unfinished or changed)."""


@dataclass(frozen=True)
class RecordedRun:
    """One run folder as ``select`` reads it."""

    folder: Path
    dynamics: RunDynamics
    record: dict
    keys: list | None          # the string example ids, when the ids are strings

    @property
    def name(self) -> str:
        return str(self.folder)

    @property
    def seed(self):
        return self.record.get("seed")

    @property
    def fingerprint(self):
        identity = self.record.get("identity") or {}
        data = identity.get("data") if isinstance(identity.get("data"), dict) else {}
        return identity.get("train_data") or data.get("train")

    @property
    def id_column(self) -> str | None:
        return (self.record.get("example_ids") or {}).get("column")


def read_run(folder) -> RecordedRun:
    """A finished, intact run folder (``RunsMismatchError`` naming it otherwise)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunsMismatchError(f"{folder} is not a folder; give the folders the recorder wrote (each holds "
                                f"{paths.RUN_FILE} and {STEP_FILE})")
    if not (folder / paths.RUN_FILE).is_file():
        raise RunsMismatchError(f"{folder} holds no {paths.RUN_FILE}: not a recorded run (the recorder writes it when "
                                "training ends; an interrupted run writes none: resume it or run it again)")
    record = read_record(folder)
    if record is None:
        raise RunsMismatchError(f"{folder} has no readable {STEP_FILE}: its run did not finish writing; run it again")
    problem = verify(folder, record)
    if problem:
        raise RunsMismatchError(f"{folder}: {problem}; the run's files changed after it was recorded: run it again")
    try:
        dynamics = RunDynamics.load(folder / paths.RUN_FILE)
    except (OSError, KeyError, ValueError) as e:
        raise RunsMismatchError(f"{folder / paths.RUN_FILE} is not the dynamics file contract ({e})") from None
    keys = json.loads((folder / KEYS_FILE).read_text()) if (folder / KEYS_FILE).is_file() else None
    return RecordedRun(folder, dynamics, record, keys)


def _first_difference(a: np.ndarray, b: np.ndarray) -> str:
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    differ = np.flatnonzero((a != b).any(axis=1))
    i = int(differ[0])
    show = lambda x: x[0].item() if x.size == 1 else x.tolist()
    return f"{len(differ)} of {len(a)} rows, first row {i}: {show(a[i])} against {show(b[i])}"


def check_runs(runs: list[RecordedRun]) -> list[str]:
    """Raise ``RunsMismatchError`` when the runs cannot be stacked; return notes (the differences that
    do not stop a selection)."""
    if len(runs) < 2:
        raise RunsMismatchError(f"an H-score needs at least 2 recorded runs; got {len(runs)}")
    seen: dict[Path, int] = {}
    for r in runs:
        where = r.folder.resolve()
        if where in seen:
            raise RunsMismatchError(f"{r.folder} is given twice; give each run folder once")
        seen[where] = 1
    first, notes = runs[0], []
    for r in runs[1:]:
        a, b = first.dynamics, r.dynamics
        pair = f"{r.folder} and {first.folder}"
        if len(b.example_id) != len(a.example_id):
            raise RunsMismatchError(f"{pair} were recorded on different training sets: {len(b.example_id)} rows "
                                    f"against {len(a.example_id)}; record every run on the same training set")
        if (r.keys is None) != (first.keys is None) or (r.keys is not None and r.keys != first.keys):
            raise RunsMismatchError(f"{pair} name their examples differently ({KEYS_FILE}); record every run on "
                                    "the same training set, in the same row order")
        for what, field_ in (("example ids", "example_id"), ("rows within their examples", "feature")):
            if not np.array_equal(getattr(b, field_), getattr(a, field_)):
                raise RunsMismatchError(f"{pair} cover other examples: their {what} differ at "
                                        f"{_first_difference(getattr(b, field_), getattr(a, field_))}; record every "
                                        "run on the same training set, in the same row order")
        for what, field_ in (("labels", "label"), ("targets", "target")):
            x, y = getattr(b, field_), getattr(a, field_)
            if x.shape != y.shape or not np.array_equal(x, y):
                detail = _first_difference(x, y) if x.shape == y.shape else f"shapes {x.shape} and {y.shape}"
                raise RunsMismatchError(f"{pair} give the same examples other {what}: {detail}; record every run "
                                        "with the same labels")
        if b.correct.shape[0] != a.correct.shape[0]:
            raise RunsMismatchError(f"{pair} recorded {b.correct.shape[0]} and {a.correct.shape[0]} epochs; an "
                                    "H-score needs every run to record the same epochs")
        if b.logits.shape[-1] != a.logits.shape[-1]:
            raise RunsMismatchError(f"{pair} kept {b.logits.shape[-1]} and {a.logits.shape[-1]} logits per row; "
                                    "record them with the same model head")
        if r.fingerprint != first.fingerprint:
            notes.append(f"{pair} have the same example ids and labels but other training data fingerprints "
                         f"({r.fingerprint} and {first.fingerprint}: another tokenisation or text); stacked anyway")
    seeds = [r.seed for r in runs]
    repeated = sorted({s for s in seeds if s is not None and seeds.count(s) > 1})
    if repeated:
        notes.append(f"several runs have the seed {', '.join(map(str, repeated))}: an H-score counts independent "
                     "runs, and runs of one seed may repeat each other")
    return notes


@dataclass(frozen=True)
class Selected:
    """R recorded runs, stacked, and what the selection made of them."""

    runs: list[RecordedRun]
    dynamics: TrainingDynamics        # [R, E, N] as recorded (per row)
    selection: selection.Selection
    settings: dict                     # the selection's arguments
    notes: list[str] = field(default_factory=list)

    @property
    def scores(self) -> pd.DataFrame:
        """One row per scoring unit: example id, row within the example, label, H and every score."""
        return self.selection.scores

    @property
    def subsets(self) -> selection.Subsets:
        return self.selection.subsets

    @property
    def keys(self) -> list | None:
        """The string example ids (``scores["example_id"]`` indexes them), when the ids are strings."""
        return self.runs[0].keys

    def histogram(self) -> pd.Series:
        """Scoring units at each H value 0..R."""
        return h_histogram(self.scores["h"].to_numpy(), self.dynamics.runs)

    def table(self) -> pd.DataFrame:
        """The H-score subsets: kept and removed H values, size, share of the full set."""
        return self.subsets.table()

    def positions(self, subset: str = TICKET, method: str = "hscore", seed: int | None = None) -> np.ndarray:
        """The positions (into ``scores``) of a subset: ``winning_ticket`` or a subset name (``remove-0-6``),
        of ``method`` (``hscore``, a baseline, ``cheaper``); ``seed``: a phase-2 seed for random baselines
        (default: the first)."""
        name = self.subsets.winning_ticket.name if subset == TICKET else subset
        names = [s.name for s in self.subsets.specs]
        if name not in names:
            raise ConfigError(f"unknown subset {subset!r}; the subsets are {TICKET} (= {names[0]}) and "
                              f"{', '.join(names)}")
        if method not in ("hscore", "cheaper") and get_baseline(method).per_seed and seed is None:
            seed = self.settings["phase2_seeds"][0]
        key = paths.subset_key(method, name, None if method in ("hscore", "cheaper")
                               or not get_baseline(method).per_seed else seed)
        if key not in self.subsets.indices:
            raise ConfigError(f"no subset {key!r}: this selection has {', '.join(sorted(self.subsets.indices))}")
        return self.subsets.indices[key]

    # --- the user's datasets ---------------------------------------------------------------------

    def rows_to_units(self, dataset, id_column: str | None = None) -> np.ndarray:
        """For every row of ``dataset``, the scoring unit (position in ``scores``) it belongs to: by the
        example id column (``id_column``, default: the one the runs recorded) when the dataset has it and
        each unit is one example (any row order; rows of several units per example, QA windows, take
        their example's scores when the scores are per example); else by position, when the dataset has
        one row per unit (the recorded rows: with several units per example, in the recorded order)."""
        n, units = len(dataset), len(self.scores)
        column = id_column or self.runs[0].id_column
        has_ids = column is not None and column in (getattr(dataset, "column_names", None) or [])
        ids = [str(v) for v in self._unit_ids()]
        if has_ids and len(set(ids)) == len(ids):
            where = {v: i for i, v in enumerate(ids)}
            unit = np.array([where.get(str(v), -1) for v in dataset[column]], dtype=np.int64)
            if (unit < 0).any():
                first = next(v for v, u in zip(dataset[column], unit) if u < 0)
                raise RunsMismatchError(f"{int((unit < 0).sum())} of the dataset's {n} rows have an example id "
                                        f"({column!r}) the runs did not record (first: {first!r}); give the training "
                                        "set the runs were recorded on")
            return unit
        if n == units:
            if has_ids and [str(v) for v in dataset[column]] != ids:
                raise RunsMismatchError(f"the dataset's column {column!r} does not hold the recorded example ids in "
                                        "the recorded order; give the training set the runs were recorded on")
            return np.arange(n)
        per = "examples" if self.settings["score_unit"] == "example" else "rows"
        hint = (f"; or give a dataset with the example id column {column!r}" if self.settings["score_unit"] == "example"
                else "; or select with score_unit='example' and give a dataset with an example id column")
        raise RunsMismatchError(f"the dataset has {n} rows and the scores {units} {per}: give the training set the "
                                f"runs were recorded on{hint}")

    def _unit_ids(self) -> list:
        ids = self.scores["example_id"].tolist()
        return [self.keys[i] for i in ids] if self.keys is not None else ids

    @property
    def score_columns(self) -> list[str]:
        """The columns of ``SCORE_COLUMNS`` these runs give a value (not missing for every example)."""
        return [c for c in SCORE_COLUMNS if c in self.scores.columns and self.scores[c].notna().any()]

    def to_dataset(self, dataset, id_column: str | None = None):
        """``dataset`` (a ``datasets.Dataset``: the training set the runs recorded, or its examples
        where the scores are per example) with the score columns added (those of ``SCORE_COLUMNS``
        these runs give a value: no EL2N without an eval pass, no Dynamic Uncertainty under 3 epochs)
        and ``winning_ticket`` (bool); every original column is kept."""
        unit = self.rows_to_units(dataset, id_column)
        clash = [c for c in (*SCORE_COLUMNS, TICKET) if c in dataset.column_names]
        if clash:
            raise ConfigError(f"the dataset already has the column(s) {', '.join(clash)}; remove or rename them "
                              "(Dataset.remove_columns / rename_column) first")
        out = dataset
        for name in self.score_columns:
            out = out.add_column(name, self.scores[name].to_numpy()[unit].tolist())
        ticket = np.zeros(len(self.scores), dtype=bool)
        ticket[self.positions(TICKET)] = True
        return out.add_column(TICKET, ticket[unit].tolist())

    def subset_dataset(self, dataset, subset: str = TICKET, method: str = "hscore", seed: int | None = None,
                       id_column: str | None = None):
        """The rows of a subset (default: the winning ticket) as a ``Dataset.select`` view of
        ``to_dataset(dataset)``, in the dataset's order."""
        scored = dataset if TICKET in dataset.column_names else self.to_dataset(dataset, id_column)
        unit = self.rows_to_units(dataset, id_column)
        return scored.select(np.flatnonzero(np.isin(unit, self.positions(subset, method, seed))).tolist())

    def subset_datasets(self, dataset, id_column: str | None = None) -> dict:
        """Every subset of the selection as a view of ``to_dataset(dataset)``: ``winning_ticket``, each
        H-score subset by name, each baseline's as ``method/subset[/seed]``, the cheaper ticket."""
        scored = self.to_dataset(dataset, id_column)
        unit = self.rows_to_units(dataset, id_column)
        out = {TICKET: scored.select(np.flatnonzero(np.isin(unit, self.positions(TICKET))).tolist())}
        for key, positions in self.subsets.indices.items():
            name = key.split("/", 1)[1] if key.startswith("hscore/") else key
            out[name] = scored.select(np.flatnonzero(np.isin(unit, positions)).tolist())
        return out

    # --- files ---------------------------------------------------------------------------------------

    def write(self, folder) -> Path:
        """The study's select files (``scores.parquet``, ``subsets.npz``, ``subsets.json``), ``runs.json``
        (the runs in order, their seeds, the notes) and a ``step.json``, in ``folder``."""
        folder = Path(folder)
        start = time.perf_counter()
        files = selection.write(folder, self.selection)
        atomic_write_json(folder / RUNS_FILE, {"runs": [str(r.folder) for r in self.runs],
                                               "seeds": [r.seed for r in self.runs], "notes": self.notes})
        identity = {"stage": "select", **plain(self.settings),
                    "runs": [r.record.get("identity_hash") for r in self.runs], "code": SELECT_CODE}
        finish_step(folder, identity, [*files, RUNS_FILE],
                    {"wall_seconds": round(time.perf_counter() - start, 3),
                     "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        return folder


def select(run_dirs, *, baselines=("random", "ambiguous"), phase2_seeds=(6666,), cheaper_ticket: float | None = None,
           score_unit: str = "feature") -> Selected:
    """Stack the recorded runs ``run_dirs`` (in this order) and select: the scores table, the H-score
    subsets and their size-matched ``baselines`` (random ones drawn per seed of ``phase2_seeds``), and
    with ``cheaper_ticket`` (a Jaccard index) the ticket of the cheapest scoring that overlaps the
    winning ticket that much. ``score_unit``: ``"feature"`` (per recorded row: a QA window, an option
    row) or ``"example"``. One ``RunsMismatchError`` line when the runs cannot be stacked."""
    runs = [read_run(d) for d in run_dirs]
    notes = check_runs(runs)
    baselines = tuple(baselines)
    for name in baselines:
        if get_baseline(name).needs_logits and (runs[0].dynamics.logits.shape[-1] == 0 or score_unit == "example"):
            raise ConfigError(f"baseline {name!r} ranks by recorded logits, and these runs "
                              f"{'are scored per example' if score_unit == 'example' else 'kept none'}; leave it out "
                              f"(known: {', '.join(BASELINES)})")
        if get_baseline(name).needs_eval_pass and runs[0].dynamics.eval_logits.shape[-1] == 0:
            raise ConfigError(f"baseline {name!r} ranks by an eval pass over the training set that these runs did not "
                              "record (the study records it with el2n_epoch); use el2n_train_step, or leave it out")
        if runs[0].dynamics.correct.shape[0] < get_baseline(name).min_epochs:
            raise ConfigError(f"baseline {name!r} needs runs of at least {get_baseline(name).min_epochs} epochs, these "
                              f"have {runs[0].dynamics.correct.shape[0]}; leave it out")
    if cheaper_ticket is not None and not 0 < cheaper_ticket <= 1:
        raise ConfigError(f"cheaper_ticket = {cheaper_ticket!r}: a Jaccard index in (0, 1], or None")
    seeds = tuple(r.seed if r.seed is not None else i for i, r in enumerate(runs))
    dynamics = TrainingDynamics.from_runs([r.dynamics for r in runs], seeds)
    settings = {"score_unit": score_unit, "runs": len(runs), "baselines": list(baselines),
                "phase2_seeds": [int(s) for s in phase2_seeds], "cheaper_ticket": cheaper_ticket}
    chosen = selection.select(dynamics, baselines=baselines, phase2_seeds=tuple(settings["phase2_seeds"]),
                              cheaper_ticket=cheaper_ticket, score_unit=score_unit,
                              name=f"{len(runs)} runs ({runs[0].folder} ...)")
    return Selected(runs, dynamics, chosen, settings, notes)
