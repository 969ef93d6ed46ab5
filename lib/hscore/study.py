"""Phase 1 (scoring) and phase 2 (fine-tuning on subsets) for one model-task pair, resumable.

Each fine-tuning run is a step (``hscore.store``): a finished run with the same configuration is
never recomputed, so an interrupted study resumes at the first unfinished run. Scores and subsets
are pure functions of the recorded dynamics; they are recomputed (in milliseconds) and rewritten
whenever asked for, and the phase-2 runs check that the subsets they trained on are still the same.
"""

from __future__ import annotations

import hashlib
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
from .metrics import METRICS, majority_baseline
from .models import load_model, load_tokenizer
from .scores import scores_table
from .store import (STEP_FILE, array_fingerprint, atomic_save_npz, atomic_write_json, atomic_write_parquet,
                    finish_step, load_step)
from .subsets import SubsetSpec, ambiguous_subset, hscore_subset, random_subset, subset_family
from .tasks import Task, get_task, load_splits
from .train import Encoded, Timer, encode, evaluate, fine_tune

METRICS_FILE = "metrics.json"


@dataclass
class PairData:
    """A pair's task, tokenizer and tokenized splits, prepared once per process."""

    cfg: PairConfig
    task: Task
    tokenizer: object
    train: Encoded
    evals: dict[str, Encoded]
    fingerprint: str          # of the training examples, their texts and labels
    majority: dict[str, float]  # majority-class accuracy on each evaluation split

    @property
    def metric(self):
        return METRICS[self.task.metric]


def prepare(cfg: PairConfig) -> PairData:
    task = get_task(cfg.task)
    if task.kind != "classification":
        raise NotImplementedError(f"task {cfg.task!r} is of kind {task.kind!r}; only classification is implemented")
    splits = load_splits(task, cfg.train_cap, cfg.eval_cap, cfg.data_seed)
    tokenizer = load_tokenizer(cfg.checkpoint)
    train = splits["train"]
    text_hash = hashlib.sha256("\x1f".join(train.text_a + (train.text_b or [])).encode()).hexdigest()[:16]
    return PairData(
        cfg=cfg, task=task, tokenizer=tokenizer,
        train=encode(train, tokenizer, cfg.max_length),
        evals={name: encode(splits[name], tokenizer, cfg.max_length) for name in task.eval_splits},
        fingerprint=array_fingerprint(train.ids, train.labels) + text_hash,
        majority={name: majority_baseline(train.labels, splits[name].labels) for name in task.eval_splits},
    )


def _identity(data: PairData, phase: str, seed: int, **extra) -> dict:
    """Everything a fine-tuning run's result depends on."""
    cfg = data.cfg
    hp = cfg.phase1 if phase == "phase1" else cfg.phase2
    return {"phase": phase, "checkpoint": cfg.checkpoint, "task": cfg.task, "train_data": data.fingerprint,
            "eval_data": {k: array_fingerprint(v.ids, v.labels) for k, v in data.evals.items()},
            "max_length": cfg.max_length, "epochs": hp.epochs, "lr": hp.lr, "batch_size": hp.batch_size,
            "seed": seed, "precision": cfg.precision, **extra}


def _run_details(cfg: PairConfig, device, seconds: float, **extra) -> dict:
    return {"device": describe_device(device), "wall_seconds": round(seconds, 2), "versions": versions(),
            "config": cfg.to_dict(), **extra}


def _update_manifest(cfg: PairConfig, stage: str, info: dict) -> None:
    path = paths.manifest_file(cfg.results_dir)
    manifest = json.loads(path.read_text()) if path.exists() else {}
    manifest.update({"config": cfg.to_dict(), "versions": versions()})
    manifest.setdefault("stages", {})[stage] = info
    atomic_write_json(path, manifest)


def _fine_tune_run(data: PairData, positions: np.ndarray, phase: str, seed: int, device, record: bool, desc: str):
    cfg = data.cfg
    hp = cfg.phase1 if phase == "phase1" else cfg.phase2
    model = load_model(cfg.checkpoint, data.task.num_labels, seed, data.tokenizer.pad_token_id)
    train = data.train if len(positions) == len(data.train) else data.train.take(positions)
    with Timer() as timer:
        dyn = fine_tune(model, data.tokenizer, train, epochs=hp.epochs, lr=hp.lr, batch_size=hp.batch_size,
                        seed=seed, device=device, precision=cfg.precision, record=record, desc=desc)
        scores = evaluate(model, data.tokenizer, data.evals, data.metric, device, cfg.precision)
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
                                              for rec in records], "majority": data.majority})
    return TrainingDynamics.load(folders, cfg.phase1.seeds)


def phase1_runs(cfg: PairConfig) -> pd.DataFrame:
    """One row per finished scoring run and evaluation split: seed, score, wall time."""
    rows = []
    for r in range(cfg.runs):
        marker = paths.phase1_run_dir(cfg.results_dir, r) / STEP_FILE
        if marker.exists():
            rec = json.loads(marker.read_text())
            rows += [{"run": r, "seed": rec["seed"], "split": split, "score": score,
                      "wall_seconds": rec["wall_seconds"], "device": rec["device"]}
                     for split, score in rec["eval"].items()]
    return pd.DataFrame(rows)


# --- scores and subsets -------------------------------------------------------------------------

def compute_scores(cfg: PairConfig, dynamics: TrainingDynamics | None = None) -> pd.DataFrame:
    """The per-example scores table, written to ``scores.parquet``."""
    if dynamics is None:
        folders = [paths.phase1_run_dir(cfg.results_dir, r) for r in range(cfg.runs)]
        dynamics = TrainingDynamics.load(folders, cfg.phase1.seeds)
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
    device = pick_device(cfg.require_gpu)
    plan = phase2_plan(cfg, subsets)
    for i, (method, spec, seed) in enumerate(plan):
        name = "full" if spec is None else spec.name
        positions = np.arange(subsets.n_full) if spec is None else subsets.positions(method, spec, seed)
        if len(positions) == 0:
            warnings.warn(f"{cfg.model}/{cfg.task}: subset {name} is empty; its phase-2 runs are skipped")
            continue
        folder = paths.phase2_run_dir(cfg.results_dir, method, name, seed)
        identity = _identity(data, "phase2", seed, method=method, subset=name,
                             train_positions=array_fingerprint(positions))
        if load_step(folder, identity) is not None:
            continue
        _, scores, seconds = _fine_tune_run(
            data, positions, "phase2", seed, device, record=False,
            desc=f"{cfg.model}/{cfg.task} phase 2 [{i + 1}/{len(plan)}] {method} {name} (seed {seed})")
        atomic_write_json(folder / METRICS_FILE, {
            "method": method, "subset": name, "kept": None if spec is None else spec.label,
            "size": int(len(positions)), "fraction": len(positions) / subsets.n_full, "seed": seed, "eval": scores})
        finish_step(folder, identity, [METRICS_FILE], _run_details(cfg, device, seconds))
    table = phase2_results(cfg)
    atomic_write_parquet(paths.phase2_table(cfg.results_dir), table)
    _update_manifest(cfg, "phase2", {"runs": int(table[["method", "subset", "seed"]].drop_duplicates().shape[0])})
    return table


def phase2_results(cfg: PairConfig) -> pd.DataFrame:
    """One row per finished phase-2 run and evaluation split."""
    rows = []
    for marker in sorted((cfg.results_dir / "phase2").glob(f"*/{METRICS_FILE}")):
        m = json.loads(marker.read_text())
        step_file = marker.parent / STEP_FILE
        step = json.loads(step_file.read_text()) if step_file.exists() else {}
        rows += [{"method": m["method"], "subset": m["subset"], "kept": m["kept"], "size": m["size"],
                  "fraction": m["fraction"], "seed": m["seed"], "split": split, "score": score,
                  "wall_seconds": step.get("wall_seconds")}
                 for split, score in m["eval"].items()]
    return pd.DataFrame(rows, columns=["method", "subset", "kept", "size", "fraction", "seed", "split", "score",
                                       "wall_seconds"])


def run_pair(cfg: PairConfig) -> pd.DataFrame:
    """The whole study of one pair: scoring runs, scores, subsets, phase 2."""
    data = prepare(cfg)
    dynamics = run_phase1(cfg, data)
    scores = compute_scores(cfg, dynamics)
    subsets = compute_subsets(cfg, scores)
    return run_phase2(cfg, subsets, data)
