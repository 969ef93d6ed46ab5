"""Running one step of the plan in this process: a scoring run, a selection, a phase-2 run, the tables.

``run_step`` runs any one step, so every executor (in order here, in worker processes, as Slurm
jobs) runs the same code. It is given the identity the step's result must have
(``hscore.study.run``, computed by the scheduler when the step's inputs are done) and holds the
step's lock while it checks and runs: a finished step with that identity is returned, not
recomputed, so an interrupted study resumes at the first unfinished step and two processes never
train the same step. A trained step whose folder holds a result made from other inputs is never
overwritten (``StaleResultError``); a derived one (selection, tables) is recomputed.
"""

from __future__ import annotations

import math
import os
import socket
import time

import numpy as np

from .. import paths
from ..config import PairConfig
from ..data.split import fold_of
from ..engine.batches import predict_logits
from ..engine.device import describe_device, pick_device, versions
from ..engine.models import non_embedding_parameters
from ..engine.prepared import DataCache, PairData
from ..engine.train import Timer, fine_tune, schedule_steps, subset_order
from ..errors import CorruptResultError, ResultsFolderError, StaleResultError
from ..files import array_fingerprint, atomic_save_npz, atomic_write_json, atomic_write_parquet, identity_hash
from ..pruning.scores import softmax
from ..pruning.subsets import subset_family
from . import results, selection
from .plan import Step, small_too_large
from .run import PairRuns
from .store import STEP_FILE, finish_step, read_record, step_lock, verify

METRICS_FILE, PREDICTIONS_FILE, RUN_FILE = paths.METRICS_FILE, paths.PREDICTIONS_FILE, paths.RUN_FILE


def worker() -> dict:
    """Who runs a step: host, process, executor and Slurm job (recorded with every step)."""
    env = os.environ
    out = {"host": socket.gethostname(), "pid": os.getpid(), "executor": paths.env("HSCORE_EXECUTOR") or "local"}
    if "SLURM_JOB_ID" in env:
        out["slurm_job"] = env["SLURM_JOB_ID"]
        if "SLURM_ARRAY_JOB_ID" in env:
            out["slurm_array_task"] = f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID')}"
    return out


def _run_details(cfg: PairConfig, device, seconds: float, **extra) -> dict:
    return {"device": describe_device(device), "wall_seconds": round(seconds, 2), "versions": versions(),
            "config": cfg.to_dict(), "worker": worker(), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}


def _fine_tune_run(data: PairData, rows: np.ndarray, phase: str, seed: int, device, record: bool, desc: str,
                   bar_position: int | None, updates: int | None = None, held_out: np.ndarray | None = None):
    """Fine-tune a fresh model on the training rows ``rows`` (in the order of ``seed``), evaluate it.
    ``updates``: train for this many optimizer updates instead of the phase's epochs (``equal_steps``);
    ``held_out``: training rows the trained model also predicts (eval mode), whose logits come last (else None)."""
    cfg = data.cfg
    hp = cfg.phase1 if phase == "phase1" else cfg.phase2
    model, unpadded = data.fresh_model(seed)
    train = data.train if len(rows) == len(data.train) else data.train.take(rows)
    eval_pass = cfg.el2n_epoch if record and data.num_logits else None   # EL2N's pass over the training rows
    train_fn = fine_tune
    if cfg.engine == "trainer":  # the Hugging Face Trainer and accelerate: imported only for the runs that use them
        from ..engine.trainer_route import fine_tune_trainer as train_fn
    with Timer() as timer:
        dyn = train_fn(model, data.kind, data.tokenizer, train, hp, seed=seed,
                        order=subset_order(len(data.train), rows, seed), device=device, precision=cfg.precision,
                        record=record, num_logits=data.num_logits, desc=desc,
                        bar_position=bar_position, eval_pass=eval_pass, **({"updates": updates} if updates else {}))
        evaluated = {name: data.kind.evaluate_examples(model, data.tokenizer, rows_, data.splits[name], device,
                                                       cfg.precision, data.head, data.task.metric,
                                                       **data.task.eval_options)
                     for name, rows_ in data.evals.items()}
        held = None if held_out is None else data.train.take(held_out)   # rows the model never trained on
        held_logits = None if held is None else predict_logits(model, data.tokenizer, held, device, cfg.precision)
    params = non_embedding_parameters(model)
    del model
    scores = {name: metrics for name, (metrics, _) in evaluated.items()}
    per_example = {f"{name}|{field}": np.asarray(values) for name, (_, arrays) in evaluated.items()
                   for field, values in arrays.items()}
    # The usual estimate: 6 FLOPs per non-embedding parameter and trained token, 2 per evaluated token.
    passes = hp.epochs if updates is None else updates / schedule_steps(hp, math.ceil(len(rows) / hp.batch_size))[1] \
        * hp.epochs
    flops = 6 * params * train.tokens() * passes + 2 * params * sum(r.tokens() for r in data.evals.values())
    flops += 2 * params * train.tokens() if eval_pass else 0
    flops += 2 * params * held.tokens() if held is not None else 0
    engine = {} if cfg.engine == "loop" else {"engine": cfg.engine}
    return dyn, scores, per_example, timer.seconds, {"flops": float(flops), "padding_free": unpadded, **engine}, \
        held_logits


# --- steps --------------------------------------------------------------------------------------

def run_step(step: Step, identity: dict, cache: DataCache | None = None, bar_position: int | None = None,
             wait: bool = True, judged: PairRuns | None = None) -> tuple[dict, bool]:
    """Run one step of the plan unless it has finished with ``identity``; return (its record,
    whether this call ran it). While another process holds the step's lock this call waits for it,
    or with ``wait=False`` raises ``filelock.Timeout`` at once. ``judged``: the pair's runs as the
    caller judged them (the tables step exports those)."""
    folder = step.folder
    try:
        lock = step_lock(folder).acquire(timeout=-1 if wait else 0)
    except PermissionError as e:
        raise ResultsFolderError(f"cannot open the lock of {folder} ({e.strerror}); make the results folder "
                                 "writable and run again") from None
    with lock:
        record = read_record(folder)
        if record is not None and record.get("identity_hash") == identity_hash(identity) and not verify(folder, record):
            return record, False
        if step.derived:   # recomputed from its inputs: what was there is not worth keeping
            (folder / STEP_FILE).unlink(missing_ok=True)
        elif record is not None or (folder / STEP_FILE).exists():
            problem = verify(folder, record) if record and record.get("identity_hash") == identity_hash(identity) \
                else ""
            error = CorruptResultError if problem else StaleResultError
            raise error(f"{folder} holds a result {'whose ' + problem if problem else 'made from other inputs'}; it is "
                        "kept, not overwritten: delete that folder to recompute it (`hscore clean --stale` deletes "
                        "every stale step of a profile)")
        if step.stage == "select":
            return _select(step, identity), True
        if step.stage == "tables":
            return _tables(step, identity, judged), True
        data = (cache or DataCache()).get(step.cfg)
        if data.identity != identity["data"]:
            raise StaleResultError(f"{step.pair}: the data changed since the plan was made "
                                   f"({'; '.join(k for k in data.identity if data.identity[k] != identity['data'][k])}"
                                   "); run the command again")
        if step.stage == "score" and step.fold is not None:
            return _fold(step, identity, data, bar_position), True
        if step.stage == "score":
            return _score(step, identity, data, bar_position), True
        return _finetune(step, identity, data, bar_position), True


def _score(step: Step, identity: dict, data: PairData, bar_position: int | None) -> dict:
    cfg, device = data.cfg, pick_device(data.cfg.require_gpu)
    dyn, scores, per_example, seconds, engine, _ = _fine_tune_run(data, np.arange(len(data.train)), "phase1",
                                                                  step.seed, device, True, step.describe(),
                                                                  bar_position)
    dyn.save(step.folder / RUN_FILE)
    atomic_save_npz(step.folder / PREDICTIONS_FILE, **per_example)
    return finish_step(step.folder, identity, [RUN_FILE, PREDICTIONS_FILE],
                       _run_details(cfg, device, seconds, **engine, run=step.run, seed=step.seed, eval=scores,
                                    data=data.describe(), encoding=data.encoding))


def _fold(step: Step, identity: dict, data: PairData, bar_position: int | None) -> dict:
    """One run of cleanlab's cross-validation: trained (phase-1 settings) on every fold but ``step.fold``,
    it predicts the held-out fold's rows; their softmax probabilities are what cleanlab reads."""
    cfg, device = data.cfg, pick_device(data.cfg.require_gpu)
    fold = fold_of(data.train.labels, cfg.cleanlab_folds, cfg.data_seed)
    held_out, trained = np.flatnonzero(fold == step.fold), np.flatnonzero(fold != step.fold)
    _, scores, per_example, seconds, engine, logits = _fine_tune_run(data, trained, "phase1", step.seed, device, False,
                                                                     step.describe(), bar_position, held_out=held_out)
    atomic_save_npz(step.folder / paths.HELDOUT_FILE, positions=held_out, probs=softmax(logits))
    atomic_save_npz(step.folder / PREDICTIONS_FILE, **per_example)
    return finish_step(step.folder, identity, [paths.HELDOUT_FILE, PREDICTIONS_FILE],
                       _run_details(cfg, device, seconds, **engine, fold=step.fold, seed=step.seed, eval=scores,
                                    trained=int(len(trained)), held_out=int(len(held_out))))


def _finetune(step: Step, identity: dict, data: PairData, bar_position: int | None) -> dict:
    cfg, device = data.cfg, pick_device(data.cfg.require_gpu)
    subsets = selection.load_subsets(cfg)
    units = subsets.positions(step.method, step.subset, step.seed)
    if array_fingerprint(units) != identity["units"] or len(data.units) != subsets.n_full:
        raise StaleResultError(f"{step.pair}: the selection changed since the plan was made; run the command again")
    rows = data.rows(units)
    if len(rows) == 0:  # an empty subset (every H value it keeps is absent): recorded, not trained
        return finish_step(step.folder, identity, [], _run_details(cfg, device, 0.0, empty=True))
    too_large = small_too_large(cfg, subsets, step.subset)
    if too_large:       # a small_subsets step whose subset turned out larger than the share: recorded, not trained
        return finish_step(step.folder, identity, [], _run_details(cfg, device, 0.0, empty=True, skipped=too_large))
    updates = None
    if step.method == "equal_steps":   # as many optimizer updates as a run on the full training set
        updates = schedule_steps(cfg.phase2, math.ceil(len(data.train) / cfg.phase2.batch_size))[1]
    _, scores, per_example, seconds, engine, _ = _fine_tune_run(data, rows, "phase2", step.seed, device, False,
                                                                step.describe(), bar_position, updates)
    atomic_save_npz(step.folder / PREDICTIONS_FILE, **per_example)
    spec = next((s for s in subset_family(cfg.runs) if s.name == step.subset), None)
    kept = None if spec is None else spec.label
    if step.method == "cheaper":  # the ticket of a cheaper scoring: its own runs and epochs
        cheaper = subsets.info["cheaper"]
        kept = f"H 1-{cheaper['runs'] - 1} of {cheaper['runs']} runs x {cheaper['epochs']} epochs"
    if step.method == "equal_steps":
        kept = f"{kept}, {updates} updates (full data's)"
    if step.method == "floor":    # the ticket with each class restored to a fraction of its share
        kept = f"{kept}, every class >= {cfg.class_floor:g} of its share"
    if step.method == "cleanlab":  # full data minus the label issues cleanlab flags
        kept = f"full data minus cleanlab's {subsets.n_full - len(units)} label issues"
    if step.method == "moved":    # the ticket of a variant's scoring, or the pair's own at that run count
        moved = subsets.info["moved"]
        of = next((t["variant"] for t in moved["tickets"] if t["subset"] == step.subset), None)
        kept = f"H 1-{moved['runs'] - 1} of {moved['runs']} runs" + (f", variant {of}" if of else "")
    atomic_write_json(step.folder / METRICS_FILE, {
        "method": step.method, "subset": step.subset, "kept": kept,
        "size": int(len(units)), "rows": int(len(rows)), "fraction": len(units) / len(data.units),
        "seed": step.seed, "eval": scores})
    return finish_step(step.folder, identity, [METRICS_FILE, PREDICTIONS_FILE],
                       _run_details(cfg, device, seconds, **engine))


def _select(step: Step, identity: dict) -> dict:
    cfg = step.cfg
    with Timer() as timer:
        files = selection.write(step.folder, selection.from_store(cfg))
    return finish_step(step.folder, identity, files, _details(cfg, timer.seconds))


def _tables(step: Step, identity: dict, judged: PairRuns | None) -> dict:
    cfg = step.cfg
    with Timer() as timer:
        pair = results.PairResults(cfg, judged)
        atomic_write_parquet(step.folder / paths.PHASE1_TABLE, pair.phase1_runs())
        atomic_write_parquet(step.folder / paths.PHASE2_TABLE, pair.phase2())
    return finish_step(step.folder, identity, [paths.PHASE1_TABLE, paths.PHASE2_TABLE], _details(cfg, timer.seconds))


def _details(cfg: PairConfig, seconds: float) -> dict:
    """What a derived step records beside its identity."""
    return {"wall_seconds": round(seconds, 3), "versions": versions(), "config": cfg.to_dict(), "worker": worker(),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
