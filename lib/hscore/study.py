"""Phase 1 (scoring) and phase 2 (fine-tuning on subsets) for one model-task pair, resumable.

Each fine-tuning run is a step (``hscore.store``): a finished run with the same configuration is
never recomputed, so an interrupted study resumes at the first unfinished run. Scores and subsets
are pure functions of the recorded dynamics; they are recomputed (in milliseconds) and rewritten
whenever asked for, and the phase-2 runs check that the subsets they trained on are still the same.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import paths
from .config import PairConfig
from .device import describe_device, pick_device, versions
from .dynamics import RUN_FILE, TrainingDynamics
from .errors import EmptySubsetError, MissingResultError
from .kinds import EncodingSettings, Features, TaskKind, get_kind
from .models import load_model, load_tokenizer, model_type
from .scores import scores_table
from .store import (STEP_FILE, array_fingerprint, atomic_save_npz, atomic_write_json, atomic_write_parquet,
                    finish_step, load_step)
from .subsets import SubsetSpec, ambiguous_subset, hscore_subset, random_subset, subset_family
from .tasks import Split, Task, get_task, load_splits
from .train import Timer, fine_tune, subset_order

METRICS_FILE = "metrics.json"


@dataclass
class PairData:
    """A pair's task, tokenizer, raw and tokenized splits, prepared once per process."""

    cfg: PairConfig
    task: Task
    kind: TaskKind
    head: str                     # the model head trained (hscore.kinds.HEADS)
    tokenizer: object
    splits: dict[str, Split]      # "train" and every evaluation split, as loaded (and capped)
    train: Features               # the training rows
    evals: dict[str, Features]    # the rows of every evaluation split
    fingerprint: str              # of the training examples and their encoding
    eval_fingerprints: dict[str, str]  # of each evaluation split's examples
    trivial: dict[str, dict[str, float]]  # split -> metric -> score of a model that ignores its input

    @property
    def units(self) -> np.ndarray:
        """The example id of every scoring unit: rows (``score_unit: feature``) or examples."""
        if self.cfg.score_unit == "feature":
            return self.train.example_id
        ids, first = np.unique(self.train.example_id, return_index=True)
        return ids[np.argsort(first, kind="stable")]

    def rows(self, units: np.ndarray) -> np.ndarray:
        """The training rows of the scoring units at these positions."""
        if self.cfg.score_unit == "feature":
            return np.asarray(units, dtype=np.int64)
        return np.flatnonzero(np.isin(self.train.example_id, self.units[units]))


def prepare(cfg: PairConfig) -> PairData:
    """Load, cap and tokenize a pair's splits; pick the head its model trains for the task's kind."""
    task = get_task(cfg.task)
    kind = get_kind(task.kind)
    splits = load_splits(task, cfg.train_cap, cfg.eval_cap, cfg.data_seed)
    tokenizer = load_tokenizer(cfg.checkpoint)
    head = kind.head(model_type(cfg.checkpoint))
    settings = EncodingSettings(cfg.max_length, cfg.doc_stride)
    encode = lambda split: kind.encode(split, tokenizer, settings, head)
    train = encode(splits["train"])
    return PairData(
        cfg=cfg, task=task, kind=kind, head=head, tokenizer=tokenizer, splits=splits, train=train,
        evals={name: encode(splits[name]) for name in task.eval_splits},
        fingerprint=splits["train"].fingerprint() + array_fingerprint(train.targets, train.example_id),
        eval_fingerprints={name: splits[name].fingerprint() for name in task.eval_splits},
        trivial={name: kind.trivial(splits["train"], splits[name], head, task.metric) for name in task.eval_splits},
    )


def _identity(data: PairData, phase: str, seed: int, **extra) -> dict:
    """Everything a fine-tuning run's result depends on."""
    cfg = data.cfg
    hp = dataclasses.asdict(cfg.phase1 if phase == "phase1" else cfg.phase2)
    del hp["seeds"]
    return {"phase": phase, "checkpoint": cfg.checkpoint, "task": cfg.task, "head": data.head,
            "train_data": data.fingerprint, "eval_data": data.eval_fingerprints,
            "max_length": cfg.max_length, "doc_stride": cfg.doc_stride, **hp, "seed": seed,
            "precision": cfg.precision, **extra}


def _run_details(cfg: PairConfig, device, seconds: float, **extra) -> dict:
    return {"device": describe_device(device), "wall_seconds": round(seconds, 2), "versions": versions(),
            "config": cfg.to_dict(), **extra}


def _update_manifest(cfg: PairConfig, stage: str, info: dict) -> None:
    path = paths.manifest_file(cfg.results_dir)
    manifest = json.loads(path.read_text()) if path.exists() else {}
    manifest.update({"config": cfg.to_dict(), "versions": versions()})
    manifest.setdefault("stages", {})[stage] = info
    atomic_write_json(path, manifest)


def _fine_tune_run(data: PairData, rows: np.ndarray, phase: str, seed: int, device, record: bool, desc: str):
    """Fine-tune a fresh model on the training rows ``rows`` (in the order of ``seed``), evaluate it."""
    cfg = data.cfg
    hp = cfg.phase1 if phase == "phase1" else cfg.phase2
    num_logits = data.kind.num_logits(data.head, data.task.num_labels)
    model = load_model(cfg.checkpoint, data.head, num_logits, seed, data.tokenizer.pad_token_id)
    train = data.train if len(rows) == len(data.train) else data.train.take(rows)
    with Timer() as timer:
        dyn = fine_tune(model, data.kind, data.tokenizer, train, hp, seed=seed,
                        order=subset_order(len(data.train), rows, seed), device=device, precision=cfg.precision,
                        record=record, num_logits=num_logits, desc=desc)
        scores = {name: data.kind.evaluate(model, data.tokenizer, rows_, data.splits[name], device, cfg.precision,
                                           data.head, data.task.metric, **data.task.eval_options)
                  for name, rows_ in data.evals.items()}
    del model
    return dyn, scores, timer.seconds


# --- phase 1 ------------------------------------------------------------------------------------

def run_phase1(cfg: PairConfig, data: PairData | None = None) -> TrainingDynamics:
    """R scoring runs on the full (capped) training set; returns their dynamics."""
    data = data or prepare(cfg)
    device = pick_device(cfg.require_gpu)
    pair = cfg.results_dir
    folders = [paths.phase1_run_dir(pair, r) for r in range(cfg.runs)]
    records = []
    for r, (seed, folder) in enumerate(zip(cfg.phase1.seeds, folders)):
        identity = _identity(data, "phase1", seed)
        record = load_step(folder, identity)
        if record is None:
            dyn, scores, seconds = _fine_tune_run(
                data, np.arange(len(data.train)), "phase1", seed, device, record=True,
                desc=f"{cfg.model}/{cfg.task} scoring run {r + 1}/{cfg.runs} (seed {seed})")
            dyn.save(folder / RUN_FILE)
            record = finish_step(folder, identity, [RUN_FILE],
                                 _run_details(cfg, device, seconds, run=r, seed=seed, eval=scores))
        records.append(record)
    _update_manifest(cfg, "phase1", {"runs": [{k: rec[k] for k in ("run", "seed", "eval", "wall_seconds", "device")}
                                              for rec in records], "trivial": data.trivial, "head": data.head,
                                     "train_rows": len(data.train), "train_examples": len(data.splits["train"])})
    return TrainingDynamics.load(folders, cfg.phase1.seeds)


def phase1_runs(cfg: PairConfig) -> pd.DataFrame:
    """One row per finished scoring run, evaluation split and metric: seed, score, wall time.

    These runs train on the full training set with the phase-1 settings: their scores are the
    paper's full-data figures (its ``phase2.sh`` has no full-data run)."""
    rows = []
    for r in range(cfg.runs):
        marker = paths.phase1_run_dir(cfg.results_dir, r) / STEP_FILE
        if marker.exists():
            rec = json.loads(marker.read_text())
            rows += [{"run": r, "seed": rec["seed"], "split": split, "metric": metric, "score": score,
                      "wall_seconds": rec["wall_seconds"], "device": rec["device"]}
                     for split, scores in rec["eval"].items() for metric, score in scores.items()]
    return pd.DataFrame(rows, columns=["run", "seed", "split", "metric", "score", "wall_seconds", "device"])


# --- scores and subsets -------------------------------------------------------------------------

def compute_scores(cfg: PairConfig, dynamics: TrainingDynamics | None = None) -> pd.DataFrame:
    """The scores table, one row per scoring unit (a training row, or a whole example with
    ``score_unit: example``), written to ``scores.parquet``."""
    if dynamics is None:
        folders = [paths.phase1_run_dir(cfg.results_dir, r) for r in range(cfg.runs)]
        dynamics = TrainingDynamics.load(folders, cfg.phase1.seeds)
    if cfg.score_unit == "example":
        dynamics = dynamics.by_example()
    table = scores_table(dynamics)
    atomic_write_parquet(paths.scores_file(cfg.results_dir), table)
    return table


def load_scores(cfg: PairConfig) -> pd.DataFrame:
    """The scores table written by phase 1 (``compute_scores``)."""
    path = paths.scores_file(cfg.results_dir)
    if not path.exists():
        raise MissingResultError(f"{path} does not exist: run phase 1 first (notebooks/scoring.ipynb with "
                                 f"profile={cfg.profile!r}, model={cfg.model!r}, task={cfg.task!r})")
    return pd.read_parquet(path)


@dataclass(frozen=True)
class Subsets:
    """Every training subset of phase 2: positions by (method, subset name[, seed])."""

    specs: list[SubsetSpec]
    indices: dict[str, np.ndarray]  # "hscore/remove-0-6", "ambiguous/remove-0-6", "random/remove-0-6/6666"
    n_full: int

    def positions(self, method: str, spec: SubsetSpec, seed: int) -> np.ndarray:
        key = f"{method}/{spec.name}" + (f"/{seed}" if method == "random" else "")
        return self.indices[key]

    def size(self, spec: SubsetSpec) -> int:
        return len(self.indices[f"hscore/{spec.name}"])

    @property
    def winning_ticket(self) -> SubsetSpec:
        return self.specs[0]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"subset": s.name, "kept H": s.label, "removed H": ",".join(map(str, s.removed)),
                              "size": self.size(s), "% of full": 100 * self.size(s) / self.n_full,
                              "winning ticket": s.is_winning_ticket} for s in self.specs])


def compute_subsets(cfg: PairConfig, scores: pd.DataFrame) -> Subsets:
    """The H-score subsets and their size-matched baselines, written to ``subsets.npz``/``.json``."""
    h, var = scores["h"].to_numpy(), scores["variability"].to_numpy()
    specs = subset_family(cfg.runs)
    indices = {}
    for spec in specs:
        chosen = hscore_subset(h, spec)
        if len(chosen) == 0 and spec.is_winning_ticket:
            raise EmptySubsetError(
                f"{cfg.model}/{cfg.task}: the winning ticket is empty: every training example has H = 0 or "
                f"H = {cfg.runs}. The scoring runs learned everything at once or nothing at all; use more "
                "training examples (train_cap), more epochs, or another learning rate in study.yaml.")
        indices[f"hscore/{spec.name}"] = chosen
        if "ambiguous" in cfg.baselines:
            indices[f"ambiguous/{spec.name}"] = ambiguous_subset(var, len(chosen))
        if "random" in cfg.baselines:
            for seed in cfg.phase2.seeds:
                indices[f"random/{spec.name}/{seed}"] = random_subset(len(h), len(chosen), seed)
    subsets = Subsets(specs, indices, len(h))
    npz, js = paths.subsets_files(cfg.results_dir)
    atomic_save_npz(npz, **{k.replace("/", "|"): v for k, v in indices.items()})
    atomic_write_json(js, {"n_full": len(h), "subsets": subsets.table().to_dict(orient="records")})
    return subsets


# --- phase 2 ------------------------------------------------------------------------------------

def phase2_plan(cfg: PairConfig, subsets: Subsets) -> list[tuple[str, SubsetSpec | None, int]]:
    """Every phase-2 run: (method, subset or None for the full set, seed)."""
    plan = [("full", None, seed) for seed in cfg.phase2.seeds]
    for spec in subsets.specs:
        for method in ("hscore", *cfg.baselines):
            plan += [(method, spec, seed) for seed in cfg.phase2.seeds]
    return plan


def run_phase2(cfg: PairConfig, subsets: Subsets, data: PairData | None = None) -> pd.DataFrame:
    """Fine-tune on the full set and on every non-empty subset; returns (and writes) the results table."""
    data = data or prepare(cfg)
    if len(data.units) != subsets.n_full:
        raise MissingResultError(f"{cfg.model}/{cfg.task}: the subsets were computed on {subsets.n_full} scoring units "
                                 f"but the training set now has {len(data.units)}; run phase 1 (the scoring "
                                 "notebook) again")
    device = pick_device(cfg.require_gpu)
    plan = phase2_plan(cfg, subsets)
    for i, (method, spec, seed) in enumerate(plan):
        name = "full" if spec is None else spec.name
        units = np.arange(subsets.n_full) if spec is None else subsets.positions(method, spec, seed)
        if len(units) == 0:
            warnings.warn(f"{cfg.model}/{cfg.task}: subset {name} is empty; its phase-2 runs are skipped")
            continue
        rows = data.rows(units)
        folder = paths.phase2_run_dir(cfg.results_dir, method, name, seed)
        identity = _identity(data, "phase2", seed, method=method, subset=name,
                             train_positions=array_fingerprint(rows))
        if load_step(folder, identity) is not None:
            continue
        _, scores, seconds = _fine_tune_run(
            data, rows, "phase2", seed, device, record=False,
            desc=f"{cfg.model}/{cfg.task} phase 2 [{i + 1}/{len(plan)}] {method} {name} (seed {seed})")
        atomic_write_json(folder / METRICS_FILE, {
            "method": method, "subset": name, "kept": None if spec is None else spec.label,
            "size": int(len(units)), "rows": int(len(rows)), "fraction": len(units) / subsets.n_full, "seed": seed,
            "eval": scores})
        finish_step(folder, identity, [METRICS_FILE], _run_details(cfg, device, seconds))
    table = phase2_results(cfg)
    atomic_write_parquet(paths.phase2_table(cfg.results_dir), table)
    _update_manifest(cfg, "phase2", {"runs": int(table[["method", "subset", "seed"]].drop_duplicates().shape[0])})
    return table


def phase2_results(cfg: PairConfig) -> pd.DataFrame:
    """One row per finished phase-2 run, evaluation split and metric."""
    rows = []
    for marker in sorted((cfg.results_dir / "phase2").glob(f"*/{METRICS_FILE}")):
        m = json.loads(marker.read_text())
        step_file = marker.parent / STEP_FILE
        step = json.loads(step_file.read_text()) if step_file.exists() else {}
        rows += [{"method": m["method"], "subset": m["subset"], "kept": m["kept"], "size": m["size"],
                  "fraction": m["fraction"], "seed": m["seed"], "split": split, "metric": metric, "score": score,
                  "wall_seconds": step.get("wall_seconds")}
                 for split, scores in m["eval"].items() for metric, score in scores.items()]
    return pd.DataFrame(rows, columns=["method", "subset", "kept", "size", "fraction", "seed", "split", "metric",
                                       "score", "wall_seconds"])


def run_pair(cfg: PairConfig) -> pd.DataFrame:
    """The whole study of one pair: scoring runs, scores, subsets, phase 2."""
    data = prepare(cfg)
    dynamics = run_phase1(cfg, data)
    scores = compute_scores(cfg, dynamics)
    subsets = compute_subsets(cfg, scores)
    return run_phase2(cfg, subsets, data)
