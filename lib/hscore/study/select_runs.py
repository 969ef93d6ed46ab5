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
- the same number of recorded epochs;
- the same training data: where the runs kept ``row_hashes.npz`` (the recorder writes it: per column
  of the training set, a hash of every row), the same rows in every column they share; else the same
  data fingerprint. Runs on other texts, another tokenisation or a shuffled copy are refused, one line
  naming how many rows differ and the first; ``allow_other_data=True`` (``--allow-other-data``) stacks
  them anyway, with a note, for a user who means it.

Every class's share in every H-score subset is checked against the training set: a class that
vanishes from the winning ticket, or falls below half its share, is one warning line per class
(``hscore.pruning.classes``; a Python ``UserWarning``, the CLI's ``hscore: warning:``, ``notes``);
``class_floor=`` keeps it. The selection itself is the study's (``hscore.study.selection.select``):
the scores table, the H-score subsets, their size-matched baselines and, on request, the cheaper
scoring's ticket, with the settings given as arguments instead of a study.yaml.

``Selected.to_dataset(train_dataset)`` returns the user's ``datasets.Dataset`` with the score columns
added as ``hscore_<score>`` and ``hscore_winning_ticket`` (every original column kept, whatever its name;
columns named ``hscore_...`` are hscore's and are replaced; rows matched by position, or by the example
id column where the scores are per example), after checking that the dataset holds the recorded rows
(the count, the labels, the row hashes of the columns it shares with the runs: one
``RunsMismatchError`` line naming the first row that differs); ``subset_dataset`` / ``subset_datasets``
give the winning ticket and every subset as ``Dataset.select(...)`` views, which ``save_to_disk`` or
``push_to_hub`` store as usual.
``write`` puts the study's select files (``scores.parquet``, ``subsets.npz``, ``subsets.json``) and a
``step.json`` in a folder. No torch is imported; ``datasets`` only by the dataset methods.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..dynamics import RunDynamics, TrainingDynamics
from ..errors import ConfigError, HScoreError
from ..files import atomic_write_json, dataset_row_hashes, plain
from ..pruning.baselines import BASELINES, get_baseline
from ..pruning.classes import class_balance
from ..pruning.scores import SCORE_COLUMNS, h_histogram
from ..records import STEP_FILE, finish_step, read_record, verify
from . import selection
from .run import SELECT_CODE

TICKET = "winning_ticket"         # the subset name that means the winning ticket, whatever R is
PREFIX = "hscore_"                # the columns to_dataset adds: hscore_h, ..., hscore_winning_ticket
LABEL_COLUMNS = ("labels", "label", "label_ids")   # a dataset's label column, first present (the recorder's names)


class RunsMismatchError(HScoreError, ValueError):
    """The runs given to ``select`` cannot be stacked (other rows, labels, epochs; unfinished or changed)."""


@dataclass(frozen=True)
class RecordedRun:
    """One run folder as ``select`` reads it."""

    folder: Path
    dynamics: RunDynamics
    record: dict
    keys: list | None          # the string example ids, when the ids are strings
    hashes: dict | None = None  # per column of the training set, a hash of every row (row_hashes.npz)

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
    keys = json.loads((folder / paths.KEYS_FILE).read_text()) if (folder / paths.KEYS_FILE).is_file() else None
    hashes = None
    if (folder / paths.ROW_HASHES_FILE).is_file():
        with np.load(folder / paths.ROW_HASHES_FILE) as f:
            hashes = {name: f[name] for name in f.files}
    return RecordedRun(folder, dynamics, record, keys, hashes)


def _first_difference(a: np.ndarray, b: np.ndarray) -> str:
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    differ = np.flatnonzero((a != b).any(axis=1))
    i = int(differ[0])
    show = lambda x: x[0].item() if x.size == 1 else x.tolist()
    return f"{len(differ)} of {len(a)} rows, first row {i}: {show(a[i])} against {show(b[i])}"


def rows_differ(a: dict, b: dict, rows: np.ndarray | None = None) -> tuple[np.ndarray, list[str]] | None:
    """Where two sets of row hashes (``files.row_hashes``, per column) differ over the columns they share,
    ``a``'s rows against ``b``'s rows ``rows`` (default: all, in order): (a bool mask over ``a``'s rows, the
    shared columns that differ at the first row that differs); None when they share no column."""
    shared = sorted(set(a) & set(b))
    if not shared:
        return None
    take = (lambda h: h) if rows is None else (lambda h: h[rows])
    apart = {name: a[name] != take(b[name]) for name in shared}
    differ = np.logical_or.reduce(list(apart.values()))
    first = int(np.argmax(differ))
    return differ, [name for name in shared if apart[name][first]] if differ.any() else []


def _other_data(r: RecordedRun, first: RecordedRun) -> str:
    """'' when two runs were recorded on the same training data, as far as they tell; else how not."""
    found = rows_differ(r.hashes, first.hashes) if r.hashes is not None and first.hashes is not None else None
    if found is not None:
        differ, columns = found
        if not differ.any():
            return ""
        return (f"{int(differ.sum())} of {len(differ)} training rows differ (first: row {int(np.argmax(differ))}, "
                f"in {', '.join(map(repr, columns))})")
    if r.fingerprint != first.fingerprint:
        return f"their training data fingerprints differ ({r.fingerprint} and {first.fingerprint})"
    return ""


def check_runs(runs: list[RecordedRun], allow_other_data: bool = False) -> list[str]:
    """Raise ``RunsMismatchError`` when the runs cannot be stacked; return notes (the differences that
    do not stop a selection). ``allow_other_data``: runs whose training rows differ in content (other
    texts, another tokenisation) are stacked with a note instead of refused."""
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
            raise RunsMismatchError(f"{pair} name their examples differently ({paths.KEYS_FILE}); record every run on "
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
        other = _other_data(r, first)
        if other and not allow_other_data:
            raise RunsMismatchError(f"{pair} were recorded on other training data: {other}; record every run on the "
                                    "same training set, or pass allow_other_data=True (--allow-other-data) if you "
                                    "mean to stack them")
        if other:
            notes.append(f"{pair} were recorded on other training data ({other}); stacked as asked (allow_other_data)")
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
    warnings: list[str] = field(default_factory=list)   # one line per class the H-score subsets drop or thin out
                                                         # (also among the notes)

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
        """The H-score subsets: kept and removed H values, size, share of the full set (and, with
        ``class_floor``, the size with the floor)."""
        return self.subsets.table()

    def class_balance(self, names=None) -> pd.DataFrame:
        """Each class's examples and share in the full set and in every H-score subset (and, with
        ``class_floor``, every subset with the floor), ``hscore.pruning.classes.class_balance``."""
        return class_balance(self.scores["label"].to_numpy(), self.subsets.balance_positions(), names)

    @property
    def method(self) -> str:
        """The method a subset is taken from by default: ``floor`` when the selection has a class floor."""
        return "hscore" if self.settings.get("class_floor") is None else "floor"

    def positions(self, subset: str = TICKET, method: str | None = None, seed: int | None = None) -> np.ndarray:
        """The positions (into ``scores``) of a subset: ``winning_ticket`` or a subset name (``remove-0-6``),
        of ``method`` (``hscore``, ``floor`` (the subset with the class floor), a baseline, ``cheaper``;
        default: ``floor`` when ``class_floor`` was given, else ``hscore``); ``seed``: a phase-2 seed for
        random baselines (default: the first)."""
        method = method or self.method
        name = self.subsets.winning_ticket.name if subset == TICKET else subset
        names = [s.name for s in self.subsets.specs]
        if name not in names:
            raise ConfigError(f"unknown subset {subset!r}; the subsets are {TICKET} (= {names[0]}) and "
                              f"{', '.join(names)}")
        try:   # the per-seed rule is the study's (Subsets.positions); a random baseline: the first seed by default
            return self.subsets.positions(method, name, self.settings["phase2_seeds"][0] if seed is None else seed)
        except KeyError as e:
            raise ConfigError(f"no subset {e.args[0]!r}: this selection has {', '.join(sorted(self.subsets.indices))}"
                              ) from None

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

    def check_dataset(self, dataset, unit: np.ndarray) -> None:
        """``RunsMismatchError`` (one line, the first row that differs) unless ``dataset``'s rows, mapped to
        scoring units ``unit``, are the rows the runs recorded: where the runs kept row hashes, the same
        content in every column the dataset shares with the runs' training set; and the same labels (its
        label column against the recorded targets). Rows of several per unit (QA windows scored per
        example) are checked by their example ids only."""
        if len(self.scores) != len(self.dynamics.example_id):
            return
        columns = [c for c in dataset.column_names if not c.startswith(PREFIX)]
        wrong = "the dataset is not the one the runs were recorded on: "
        again = "; give the training set the runs recorded"
        hashes = self.runs[0].hashes
        shared = [c for c in columns if hashes is not None and c in hashes]
        if shared:
            differ, names = rows_differ(dataset_row_hashes(dataset, shared), hashes, unit)
            if differ.any():
                raise RunsMismatchError(f"{wrong}{int(differ.sum())} of its {len(unit)} rows differ from the recorded "
                                        f"rows (first: row {int(np.argmax(differ))}, in {', '.join(map(repr, names))})"
                                        f"{again}")
        label = next((c for c in LABEL_COLUMNS if c in columns), None)
        target = self.runs[0].dynamics.target
        if label is not None and target.ndim == 1:
            given = np.asarray(dataset[label])
            if given.ndim == 1 and given.dtype.kind in "iub":
                differ = np.flatnonzero(given != target[unit])
                if len(differ):
                    i = int(differ[0])
                    raise RunsMismatchError(f"{wrong}{len(differ)} of its {len(unit)} rows have another {label!r} "
                                            f"(first: row {i}, {given[i]} against {target[unit[i]]} recorded){again}")

    @property
    def score_columns(self) -> list[str]:
        """The columns of ``SCORE_COLUMNS`` these runs give a value (not missing for every example)."""
        return [c for c in SCORE_COLUMNS if c in self.scores.columns and self.scores[c].notna().any()]

    def to_dataset(self, dataset, id_column: str | None = None):
        """``dataset`` (a ``datasets.Dataset``: the training set the runs recorded, or its examples
        where the scores are per example), checked against the recorded rows (``check_dataset``), with
        the score columns added as ``hscore_<score>`` (those of ``SCORE_COLUMNS`` these runs give a
        value: no EL2N without an eval pass, no Dynamic Uncertainty under 3 epochs) and
        ``hscore_winning_ticket`` (bool; with ``class_floor``, the ticket with the floor). Every original
        column is kept; columns named ``hscore_...`` are hscore's and are replaced."""
        ours = [c for c in dataset.column_names if c.startswith(PREFIX)]
        dataset = dataset.remove_columns(ours) if ours else dataset
        unit = self.rows_to_units(dataset, id_column)
        self.check_dataset(dataset, unit)
        out = dataset
        for name in self.score_columns:
            out = out.add_column(PREFIX + name, self.scores[name].to_numpy()[unit].tolist())
        ticket = np.zeros(len(self.scores), dtype=bool)
        ticket[self.positions(TICKET)] = True
        return out.add_column(PREFIX + TICKET, ticket[unit].tolist())

    def subset_dataset(self, dataset, subset: str = TICKET, method: str | None = None, seed: int | None = None,
                       id_column: str | None = None):
        """The rows of a subset (default: the winning ticket, with the class floor when one was given) as a
        ``Dataset.select`` view of ``to_dataset(dataset)``, in the dataset's order."""
        scored = self.to_dataset(dataset, id_column)
        unit = self.rows_to_units(scored, id_column)
        return scored.select(np.flatnonzero(np.isin(unit, self.positions(subset, method, seed))).tolist())

    def subset_datasets(self, dataset, id_column: str | None = None) -> dict:
        """Every subset of the selection as a view of ``to_dataset(dataset)``: ``winning_ticket``, each
        H-score subset by name, each baseline's as ``method/subset[/seed]``, the cheaper ticket."""
        scored = self.to_dataset(dataset, id_column)
        unit = self.rows_to_units(scored, id_column)
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
        atomic_write_json(folder / paths.RUNS_FILE, {"runs": [str(r.folder) for r in self.runs],
                                               "seeds": [r.seed for r in self.runs], "notes": self.notes})
        identity = {"stage": "select", **plain(self.settings),
                    "runs": [r.record.get("identity_hash") for r in self.runs], "code": SELECT_CODE}
        finish_step(folder, identity, [*files, paths.RUNS_FILE],
                    {"wall_seconds": round(time.perf_counter() - start, 3),
                     "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        return folder


def select(run_dirs, *, baselines=("random", "ambiguous"), phase2_seeds=(6666,), cheaper_ticket: float | None = None,
           score_unit: str = "feature", class_floor: float | None = None, label_names=None,
           allow_other_data: bool = False) -> Selected:
    """Stack the recorded runs ``run_dirs`` (in this order) and select: the scores table, the H-score
    subsets and their size-matched ``baselines`` (random ones drawn per seed of ``phase2_seeds``), and
    with ``cheaper_ticket`` (a Jaccard index) the ticket of the cheapest scoring that overlaps the
    winning ticket that much. ``score_unit``: ``"feature"`` (per recorded row: a QA window, an option
    row) or ``"example"``. ``class_floor`` (a fraction in (0, 1], default None: the paper's rule): every
    subset also with each class restored to at least that fraction of its share (method ``floor``, what
    ``subset_dataset`` then returns by default). ``label_names``: the class names the warnings use.
    ``allow_other_data``: stack runs recorded on other training rows (refused by default). One
    ``RunsMismatchError`` line when the runs cannot be stacked; a ``UserWarning`` per class the subsets
    drop or thin out."""
    runs = [read_run(d) for d in run_dirs]
    notes = check_runs(runs, allow_other_data)
    labels = np.unique(runs[0].dynamics.label)
    if label_names is not None and len(label_names) <= labels.max():
        raise ConfigError(f"label_names: {len(label_names)} names for labels up to {labels.max()}; give one name per "
                          "label, in label order")
    if class_floor is not None and not 0 < class_floor <= 1:
        raise ConfigError(f"class_floor = {class_floor!r}: the least fraction (0, 1] of its share each class keeps")
    baselines = tuple(baselines)
    recorded = runs[0].dynamics
    for name in baselines:
        baseline = get_baseline(name)
        unmet = baseline.unmet(recorded.logits.shape[-1] > 0 and score_unit != "example",
                               recorded.eval_logits.shape[-1] > 0, recorded.correct.shape[0])
        if unmet == "logits":
            raise ConfigError(f"baseline {name!r} ranks by recorded logits, and these runs "
                              f"{'are scored per example' if score_unit == 'example' else 'kept none'}; leave it out "
                              f"(known: {', '.join(BASELINES)})")
        if unmet == "eval_pass":
            raise ConfigError(f"baseline {name!r} ranks by an eval pass over the training set that these runs did not "
                              "record (the study records it with el2n_epoch); use el2n_train_step, or leave it out")
        if unmet == "epochs":
            raise ConfigError(f"baseline {name!r} needs runs of at least {baseline.min_epochs} epochs, these "
                              f"have {recorded.correct.shape[0]}; leave it out")
    if cheaper_ticket is not None and not 0 < cheaper_ticket <= 1:
        raise ConfigError(f"cheaper_ticket = {cheaper_ticket!r}: a Jaccard index in (0, 1], or None")
    seeds = tuple(r.seed if r.seed is not None else i for i, r in enumerate(runs))
    dynamics = TrainingDynamics.from_runs([r.dynamics for r in runs], seeds)
    settings = {"score_unit": score_unit, "runs": len(runs), "baselines": list(baselines),
                "phase2_seeds": [int(s) for s in phase2_seeds], "cheaper_ticket": cheaper_ticket,
                **({"class_floor": class_floor} if class_floor is not None else {})}
    chosen = selection.select(dynamics, baselines=baselines, phase2_seeds=tuple(settings["phase2_seeds"]),
                              cheaper_ticket=cheaper_ticket, score_unit=score_unit,
                              name=f"{len(runs)} runs ({runs[0].folder} ...)", class_floor=class_floor)
    told = chosen.class_warnings(label_names)
    for line in told:
        warnings.warn(line, UserWarning, stacklevel=2)
    return Selected(runs, dynamics, chosen, settings, notes + told, told)
