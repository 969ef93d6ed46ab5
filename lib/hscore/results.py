"""Reading results back: exactly the plan's runs, never anything else that lies on disk.

Tables, plots, the notebooks and the book read results through this module. A finished run counts
when it is one of the plan's steps (``hscore.plan.pair_steps``) and its recorded identity holds the
plan's settings for it (``hscore.plan.run_settings``). Anything else (a seed no longer in
``phase2.seeds``, a removed baseline, a run made with another learning rate) is ignored and listed
by ``ignored``, with the reason, never averaged in. The manifest of a pair is gathered from its
steps' records on read (``manifest``). This module imports no torch.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from . import paths
from .config import PairConfig
from .plan import Step, pair_steps
from .store import STEP_FILE, read_record, settings_diff

METRICS_FILE = paths.METRICS_FILE
PHASE1_COLUMNS = ["run", "seed", "split", "metric", "score", "wall_seconds", "flops", "device"]
PHASE2_COLUMNS = ["method", "subset", "kept", "size", "fraction", "seed", "split", "metric", "score", "wall_seconds",
                  "flops"]


def _runs(cfg: PairConfig, stage: str) -> list[Step]:
    return [s for s in pair_steps(cfg) if s.stage == stage]


def current_record(step: Step) -> dict | None:
    """The record of a finished step made with the plan's settings for it, else None."""
    record = read_record(step.folder)
    if record is None:
        return None
    wanted = step.settings()
    recorded = record.get("identity", {})
    return record if {k: recorded.get(k) for k in wanted} == wanted else None


def step_state(step: Step) -> str:
    """``done``, ``stale`` (finished with other settings), ``running`` (a process holds its lock) or
    ``pending``. The ``select`` step is done when its subsets file exists."""
    if step.stage == "select":
        return "done" if paths.subsets_files(step.cfg.results_dir)[0].exists() else "pending"
    if current_record(step) is not None:
        return "done"
    if read_record(step.folder) is not None:
        return "stale"
    lock = paths.lock_file(step.folder)
    if lock.exists():
        held = FileLock(lock)
        try:
            held.acquire(timeout=0)
        except Timeout:
            return "running"
        held.release()
    return "pending"


def phase1_runs(cfg: PairConfig) -> pd.DataFrame:
    """One row per finished scoring run of the plan, evaluation split and metric: seed, score, wall time.

    These runs train on the full training set with the phase-1 settings: their scores are the
    paper's full-data figures (its ``phase2.sh`` has no full-data run)."""
    rows = []
    for step in _runs(cfg, "score"):
        rec = current_record(step)
        if rec is not None:
            rows += [{"run": step.run, "seed": rec["seed"], "split": split, "metric": metric, "score": score,
                      "wall_seconds": rec["wall_seconds"], "flops": rec.get("flops"), "device": rec["device"]}
                     for split, scores in rec["eval"].items() for metric, score in scores.items()]
    return pd.DataFrame(rows, columns=PHASE1_COLUMNS)


def phase1_info(cfg: PairConfig) -> dict:
    """What the scoring runs saw: head, training rows and examples, trivial scores (from the first run)."""
    for step in _runs(cfg, "score"):
        rec = current_record(step)
        if rec is not None:
            return rec["data"]
    raise FileNotFoundError(f"{cfg.model}/{cfg.task}: no finished scoring run under {cfg.results_dir}")


def phase2_results(cfg: PairConfig) -> pd.DataFrame:
    """One row per finished phase-2 run of the plan, evaluation split and metric."""
    rows = []
    for step in _runs(cfg, "finetune"):
        rec = current_record(step)
        if rec is None or rec.get("empty"):
            continue
        m = json.loads((step.folder / METRICS_FILE).read_text())
        rows += [{"method": m["method"], "subset": m["subset"], "kept": m["kept"], "size": m["size"],
                  "fraction": m["fraction"], "seed": m["seed"], "split": split, "metric": metric, "score": score,
                  "wall_seconds": rec.get("wall_seconds"), "flops": rec.get("flops")}
                 for split, scores in m["eval"].items() for metric, score in scores.items()]
    return pd.DataFrame(rows, columns=PHASE2_COLUMNS)


def predictions(cfg: PairConfig) -> pd.DataFrame:
    """One row per evaluation example of every finished run of the plan that kept its predictions
    (``predictions.npz``; runs made before the package kept them have none): ``method`` (``phase1``
    for the scoring runs, which train on the full set), ``subset``, ``seed``, ``split``,
    ``example_id``, and what the task's kind keeps per example (``label`` and ``prediction``, and
    per-example metric values such as QA ``f1``; ``hscore.kinds.base``)."""
    parts = []
    for step in pair_steps(cfg):
        if step.stage not in ("score", "finetune"):
            continue
        rec = current_record(step)
        file = step.folder / paths.PREDICTIONS_FILE
        if rec is None or rec.get("empty") or not file.exists():
            continue
        method, subset = ("phase1", "full") if step.stage == "score" else (step.method, step.subset)
        with np.load(file) as f:
            by_split: dict[str, dict] = {}
            for key in f.files:
                split, field = key.split("|", 1)
                by_split.setdefault(split, {})[field] = f[key]
        for split, arrays in by_split.items():
            frame = pd.DataFrame(arrays)
            frame.insert(0, "split", split)
            frame.insert(0, "seed", step.seed)
            frame.insert(0, "subset", subset)
            frame.insert(0, "method", method)
            parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["method", "subset", "seed", "split", "example_id"])


def ignored(cfg: PairConfig) -> list[str]:
    """Finished runs on disk that the tables leave out, each with the reason."""
    planned = {s.folder: s for s in pair_steps(cfg) if s.folder is not None}
    out = []
    for marker in sorted([*cfg.results_dir.glob(f"phase1/*/{STEP_FILE}"), *cfg.results_dir.glob(f"phase2/*/{STEP_FILE}")]):
        folder = marker.parent
        rel = folder.relative_to(cfg.results_dir).as_posix()
        step = planned.get(folder)
        if step is None:
            out.append(f"{rel}: not in the plan (its seed, method or subset is not in study.yaml now)")
        elif current_record(step) is None:
            diff = settings_diff((read_record(folder) or {}).get("identity", {}), step.settings())
            diff = [d for d in diff if d.split(":")[0] in step.settings()]
            out.append(f"{rel}: made with other settings ({'; '.join(diff)})")
    return out


def manifest(cfg: PairConfig) -> dict:
    """The pair's configuration and every planned step's state and record, gathered from the store."""
    steps = {}
    for step in pair_steps(cfg):
        entry = {"state": step_state(step)}
        if step.folder is not None and entry["state"] == "done":
            rec = read_record(step.folder)
            entry.update({k: rec.get(k) for k in ("seed", "wall_seconds", "device", "worker", "finished")})
        steps[step.name] = entry
    return {"config": cfg.to_dict(), "results": str(cfg.results_dir), "steps": steps, "ignored": ignored(cfg)}
