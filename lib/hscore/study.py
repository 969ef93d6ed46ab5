"""Running the plan's steps for one model-task pair: scoring runs, selection, phase-2 runs.

``run_step`` runs any one step of the plan (``hscore.plan``) in this process, so every executor
(in order here, in worker processes, as Slurm jobs) runs the same code. Each fine-tuning run is a
step of the results store (``hscore.store``): it holds the step's lock while it checks and runs,
a finished run with the same identity is returned, not recomputed, so an interrupted study resumes
at the first unfinished run, and two processes never train the same step. Scores and subsets
(``hscore.selection``) are pure functions of the recorded dynamics, recomputed whenever asked for;
the phase-2 runs check that the subsets they trained on are still the same.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass

import numpy as np

from . import padding_free, paths
from .config import PairConfig
from .device import describe_device, pick_device, versions
from .dynamics import TrainingDynamics
from .errors import MissingResultError
from .kinds import EncodingSettings, Features, TaskKind, get_kind
from .models import load_model, load_tokenizer, model_type, non_embedding_parameters
from .plan import Step, pair_steps
from .paths import METRICS_FILE, PREDICTIONS_FILE, RUN_FILE
from .results import phase2_results
from .selection import Subsets, load_dynamics, load_subsets, select
from .store import (array_fingerprint, atomic_save_npz, atomic_write_json, atomic_write_parquet, finish_step,
                    load_step, step_lock)
from .subsets import subset_family
from .tasks import Split, Task, get_task, load_splits
from .train import Timer, fine_tune, subset_order


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

    @property
    def num_logits(self) -> int:
        """Logits a training step records per row (0: none, as for extractive QA)."""
        return self.kind.num_logits(self.head, self.task.num_labels)

    def fresh_model(self, seed: int, unpadded: bool | None = None):
        """(model, padding-free?): the pretrained model with a new head initialised by ``seed``,
        padding-free when the pair's ``padding_free`` says so (``unpadded`` overrides it) and its
        architecture allows (``hscore.padding_free``)."""
        model = load_model(self.cfg.checkpoint, self.head, self.num_logits, seed, self.tokenizer.pad_token_id)
        wanted = self.cfg.padding_free if unpadded is None else unpadded
        return model, bool(wanted and padding_free.enable(model))

    def describe(self) -> dict:
        """What the scoring runs see, recorded with each of them."""
        return {"head": self.head, "train_rows": len(self.train), "train_examples": len(self.splits["train"]),
                "labels": list(self.task.label_names), "trivial": self.trivial}


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


_PREPARED: dict[PairConfig, PairData] = {}


KEEP_PREPARED = 4  # pairs whose data a process keeps (a worker takes steps of several pairs in turn)


def prepared(cfg: PairConfig) -> PairData:
    """``prepare(cfg)``, kept for the next steps of the same pair in this process."""
    if cfg not in _PREPARED:
        while len(_PREPARED) >= KEEP_PREPARED:
            _PREPARED.pop(next(iter(_PREPARED)))
        _PREPARED[cfg] = prepare(cfg)
    return _PREPARED[cfg]


def _identity(data: PairData, step: Step, **extra) -> dict:
    """Everything a fine-tuning run's result depends on: the plan's settings and the data's fingerprints."""
    return {**step.settings(), "head": data.head, "train_data": data.fingerprint,
            "eval_data": data.eval_fingerprints, **extra}


def worker() -> dict:
    """Who runs a step: host, process, executor and Slurm job (recorded with every step)."""
    env = os.environ
    out = {"host": socket.gethostname(), "pid": os.getpid(), "executor": env.get("HSCORE_EXECUTOR", "local")}
    if "SLURM_JOB_ID" in env:
        out["slurm_job"] = env["SLURM_JOB_ID"]
        if "SLURM_ARRAY_JOB_ID" in env:
            out["slurm_array_task"] = f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID')}"
    return out


def _run_details(cfg: PairConfig, device, seconds: float, **extra) -> dict:
    return {"device": describe_device(device), "wall_seconds": round(seconds, 2), "versions": versions(),
            "config": cfg.to_dict(), "worker": worker(), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}


def _fine_tune_run(data: PairData, rows: np.ndarray, phase: str, seed: int, device, record: bool, desc: str):
    """Fine-tune a fresh model on the training rows ``rows`` (in the order of ``seed``), evaluate it."""
    cfg = data.cfg
    hp = cfg.phase1 if phase == "phase1" else cfg.phase2
    model, unpadded = data.fresh_model(seed)
    train = data.train if len(rows) == len(data.train) else data.train.take(rows)
    with Timer() as timer:
        dyn = fine_tune(model, data.kind, data.tokenizer, train, hp, seed=seed,
                        order=subset_order(len(data.train), rows, seed), device=device, precision=cfg.precision,
                        record=record, num_logits=data.num_logits, desc=desc)
        evaluated = {name: data.kind.evaluate_examples(model, data.tokenizer, rows_, data.splits[name], device,
                                                       cfg.precision, data.head, data.task.metric,
                                                       **data.task.eval_options)
                     for name, rows_ in data.evals.items()}
    params = non_embedding_parameters(model)
    del model
    scores = {name: metrics for name, (metrics, _) in evaluated.items()}
    per_example = {f"{name}|{field}": np.asarray(values) for name, (_, arrays) in evaluated.items()
                   for field, values in arrays.items()}
    # The usual estimate: 6 FLOPs per non-embedding parameter and trained token, 2 per evaluated token.
    flops = 6 * params * train.tokens() * hp.epochs + 2 * params * sum(r.tokens() for r in data.evals.values())
    return dyn, scores, per_example, timer.seconds, {"flops": float(flops), "padding_free": unpadded}


# --- steps --------------------------------------------------------------------------------------

def run_step(step: Step, data: PairData | None = None, wait: bool = True) -> dict:
    """Run one step of the plan unless it has finished; return its record.

    The record's ``ran`` says whether this call trained (False: it was finished, by this process
    earlier or by another one that held the step's lock). While another process holds the step's
    lock this call waits for it, or with ``wait=False`` raises ``filelock.Timeout`` at once."""
    if step.stage == "select":
        select(step.cfg)
        return {"ran": True}
    data = data or prepared(step.cfg)
    cfg = data.cfg
    device = pick_device(cfg.require_gpu)
    if step.stage == "score":
        rows, extra = np.arange(len(data.train)), {}
    else:
        subsets = load_subsets(cfg)
        if len(data.units) != subsets.n_full:
            raise MissingResultError(
                f"{step.pair}: the subsets were computed on {subsets.n_full} scoring units but the training set now "
                f"has {len(data.units)}; run phase 1 again")
        units = subsets.positions(step.method, step.subset, step.seed)
        rows = data.rows(units)
        extra = {"train_positions": array_fingerprint(rows)}
    identity = _identity(data, step, **extra)
    with step_lock(step.folder).acquire(timeout=-1 if wait else 0):
        record = load_step(step.folder, identity)
        if record is not None:
            return {**record, "ran": False}
        if step.stage == "score":
            dyn, scores, per_example, seconds, engine = _fine_tune_run(data, rows, "phase1", step.seed, device,
                                                                       record=True, desc=step.describe())
            dyn.save(step.folder / RUN_FILE)
            atomic_save_npz(step.folder / PREDICTIONS_FILE, **per_example)
            record = finish_step(step.folder, identity, [RUN_FILE, PREDICTIONS_FILE],
                                 _run_details(cfg, device, seconds, **engine, run=step.run, seed=step.seed,
                                              eval=scores, data=data.describe()))
        elif len(rows) == 0:  # an empty subset (every H value it keeps is absent): recorded, not trained
            record = finish_step(step.folder, identity, [], _run_details(cfg, device, 0.0, empty=True))
        else:
            _, scores, per_example, seconds, engine = _fine_tune_run(data, rows, "phase2", step.seed, device,
                                                                     record=False, desc=step.describe())
            atomic_save_npz(step.folder / PREDICTIONS_FILE, **per_example)
            spec = next((s for s in subset_family(cfg.runs) if s.name == step.subset), None)
            kept = None if spec is None else spec.label
            if step.method == "cheaper":  # the ticket of a cheaper scoring: its own runs and epochs
                cheaper = json.loads(paths.subsets_files(cfg.results_dir)[1].read_text())["cheaper"]
                kept = f"H 1-{cheaper['runs'] - 1} of {cheaper['runs']} runs x {cheaper['epochs']} epochs"
            atomic_write_json(step.folder / METRICS_FILE, {
                "method": step.method, "subset": step.subset, "kept": kept,
                "size": int(len(units)), "rows": int(len(rows)), "fraction": len(units) / len(data.units),
                "seed": step.seed, "eval": scores})
            record = finish_step(step.folder, identity, [METRICS_FILE, PREDICTIONS_FILE],
                                 _run_details(cfg, device, seconds, **engine))
    return {**record, "ran": True}


def _pair_stage(cfg: PairConfig, stage: str) -> list[Step]:
    return [s for s in pair_steps(cfg) if s.stage == stage]


def run_phase1(cfg: PairConfig, data: PairData | None = None) -> TrainingDynamics:
    """The pair's R scoring runs (each run once, resumable); returns their dynamics."""
    data = data or prepared(cfg)
    for step in _pair_stage(cfg, "score"):
        run_step(step, data)
    return load_dynamics(cfg)


def run_phase2(cfg: PairConfig, subsets: Subsets | None = None, data: PairData | None = None):
    """The pair's phase-2 runs on the subsets written by its select step; returns the results table
    (the plan's runs only, ``hscore.results.phase2_results``), also written to ``phase2.parquet``."""
    data = data or prepared(cfg)
    for step in _pair_stage(cfg, "finetune"):
        run_step(step, data)
    table = phase2_results(cfg)
    atomic_write_parquet(paths.phase2_table(cfg.results_dir), table)
    return table


def run_pair(cfg: PairConfig):
    """The whole study of one pair, in this process: scoring runs, scores and subsets, phase 2."""
    data = prepared(cfg)
    run_phase1(cfg, data)
    select(cfg)
    return run_phase2(cfg, data=data)
