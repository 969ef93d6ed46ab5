"""Reading results back: exactly the plan's current runs, never anything else that lies on disk.

Tables, plots, the notebooks and the book read results through ``PairResults``: a finished run
counts when it is one of the plan's steps and it is *done* (``hscore.study.run``: its record holds
the identity its inputs give now, and its files match their checksums). Anything else (a seed no
longer in ``phase2.seeds``, a removed baseline, a run made with another learning rate, on data that
changed, or on a subset the selection no longer gives; a file that does not match its checksum) is
left out and listed by ``ignored``, with the reason, never averaged in. The pair's manifest is
gathered from its steps' records on read. This module imports no torch.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd

from .. import paths
from ..config import PairConfig
from ..dynamics import TrainingDynamics
from ..errors import MissingResultError
from .run import PairRuns, Run
from .selection import Subsets, load_dynamics, load_scores, load_subsets, load_variants, unit_dynamics
from .store import STEP_FILE, read_record

PHASE1_COLUMNS = ["run", "seed", "split", "metric", "score", "wall_seconds", "flops", "device"]
FULL_FROM_SCORING = "full data: the scoring runs"   # ``kept`` of full data's rows with phase2_full: false
PHASE2_COLUMNS = ["method", "subset", "kept", "size", "fraction", "seed", "split", "metric", "score", "wall_seconds",
                  "flops"]


def _kept(method):
    """Read once per ``PairResults``: a reader is a view of the store as judged when it was made."""
    @functools.wraps(method)
    def read(self):
        if method.__name__ not in self._read:
            self._read[method.__name__] = method(self)
        return self._read[method.__name__]
    return read


class PairResults:
    """The current results of one pair (``runs``: its steps as judged now, by ``PairRuns``); each
    table is read once, when first asked for."""

    def __init__(self, cfg: PairConfig, runs: PairRuns | None = None):
        self.cfg = cfg
        self.runs = runs or PairRuns(cfg)
        self._read: dict = {}

    def _done(self, stage: str, variants: bool = False, folds: bool = False) -> list[Run]:
        """The stage's done runs; for scoring, the pair's own (``variants``: the variants' instead; ``folds``:
        cleanlab's cross-validation runs instead)."""
        return [r for r in self.runs.stage(stage) if r.done and (stage != "score" or (
            (r.step.variant is not None) == variants and (r.step.fold is not None) == folds))]

    def _need_select(self) -> None:
        select = self.runs["select"]
        if not select.done:
            raise MissingResultError(f"{self.cfg.pair}: no current scores and subsets ({select.describe()}); run "
                                     f"`hscore run --profile {self.cfg.profile} --pair {self.cfg.pair}` first")

    # --- phase 1 ---------------------------------------------------------------------------------------

    @_kept
    def phase1_runs(self) -> pd.DataFrame:
        """One row per current scoring run, evaluation split and metric: seed, score, wall time.

        These runs train on the full training set with the phase-1 settings: their scores are the
        paper's full-data figures (its ``phase2.sh`` has no full-data run)."""
        rows = []
        for run in self._done("score"):
            rec = run.record
            rows += [{"run": run.step.run, "seed": rec["seed"], "split": split, "metric": metric, "score": score,
                      "wall_seconds": rec["wall_seconds"], "flops": rec.get("flops"), "device": rec["device"]}
                     for split, scores in rec["eval"].items() for metric, score in scores.items()]
        return pd.DataFrame(rows, columns=PHASE1_COLUMNS)

    @_kept
    def variant_runs(self) -> pd.DataFrame:
        """One row per current scoring run of a variant (``variants:``), evaluation split and metric:
        the variant, run, seed, score, wall time, FLOPs and the settings it changed."""
        changed = {v.name: ", ".join(f"{k} {getattr(v, k)}" for k in ("model", "lr", "batch_size", "epochs", "seeds",
                                                                      "runs", "max_length", "padding_free")
                                     if getattr(v, k) is not None) for v in self.cfg.variants}
        rows = []
        for run in self._done("score", variants=True):
            rec = run.record
            rows += [{"variant": run.step.variant, "changed": changed.get(run.step.variant, ""), "run": run.step.run,
                      "seed": rec["seed"], "split": split, "metric": metric, "score": score,
                      "wall_seconds": rec["wall_seconds"], "flops": rec.get("flops"), "device": rec["device"]}
                     for split, scores in rec["eval"].items() for metric, score in scores.items()]
        return pd.DataFrame(rows, columns=["variant", "changed", *PHASE1_COLUMNS])

    @_kept
    def fold_runs(self) -> pd.DataFrame:
        """One row per current cross-validation run of cleanlab (``cleanlab_folds``): fold, seed, rows trained and
        held out, wall time (what cleanlab's probabilities cost beyond the scoring runs)."""
        rows = [{"fold": r.step.fold, "seed": r.record["seed"], "trained": r.record["trained"],
                 "held out": r.record["held_out"], "wall_seconds": r.record["wall_seconds"],
                 "device": r.record["device"]}
                for r in self._done("score", folds=True)]
        return pd.DataFrame(rows, columns=["fold", "seed", "trained", "held out", "wall_seconds", "device"])

    @_kept
    def variant_dynamics(self) -> dict[str, TrainingDynamics]:
        """Each variant's scoring runs' dynamics per scoring unit, by name (needs the current selection)."""
        self._need_select()
        return {name: unit_dynamics(self.cfg, dyn) for name, dyn in load_variants(self.cfg).items()}

    def phase1_info(self) -> dict:
        """What the scoring runs saw: head, training rows and examples, trivial scores (from the first run)."""
        for run in self._done("score"):
            return run.record["data"]
        raise MissingResultError(f"{self.cfg.pair}: no current scoring run under {self.cfg.results_dir}")

    @_kept
    def dynamics(self) -> TrainingDynamics:
        """The scoring runs' dynamics per scoring unit (rows, or examples with ``score_unit: example``)."""
        self._need_select()
        return unit_dynamics(self.cfg, load_dynamics(self.cfg))

    @_kept
    def scores(self) -> pd.DataFrame:
        """The scores table of the current selection (one row per scoring unit)."""
        self._need_select()
        return load_scores(self.cfg)

    @_kept
    def subsets(self) -> Subsets:
        """The current selection: every subset's positions."""
        self._need_select()
        return load_subsets(self.cfg)

    # --- phase 2 ---------------------------------------------------------------------------------------

    @_kept
    def phase2(self) -> pd.DataFrame:
        """One row per current phase-2 run, evaluation split and metric."""
        rows = []
        for run in self._done("finetune"):
            if run.record.get("empty"):
                continue
            m = json.loads((run.step.folder / paths.METRICS_FILE).read_text())
            rows += [{"method": m["method"], "subset": m["subset"], "kept": m["kept"], "size": m["size"],
                      "fraction": m["fraction"], "seed": m["seed"], "split": split, "metric": metric, "score": score,
                      "wall_seconds": run.record.get("wall_seconds"), "flops": run.record.get("flops")}
                     for split, scores in m["eval"].items() for metric, score in scores.items()]
        table = pd.DataFrame(rows, columns=PHASE2_COLUMNS)
        scoring = self.phase1_runs()
        if self.cfg.phase2_full or scoring.empty:
            return table
        # full data's figures are the scoring runs' (phase-2 settings = phase 1's but the seeds)
        full = scoring.assign(method="full", subset="full", kept=FULL_FROM_SCORING,
                              size=self.phase1_info()["train_examples"], fraction=1.0)
        return pd.concat([table, full[PHASE2_COLUMNS]], ignore_index=True) if len(table) else full[PHASE2_COLUMNS]

    @_kept
    def predictions(self) -> pd.DataFrame:
        """One row per evaluation example of every current run that kept its predictions
        (``predictions.npz``): ``method`` (``phase1`` for the scoring runs, which train on the full
        set, and ``full`` too with ``phase2_full: false``), ``subset``, ``seed``, ``split``, ``example_id``,
        and what the task's kind keeps per example (``label`` and ``prediction``, and per-example metric
        values such as QA ``f1``)."""
        parts = []
        scoring = self._done("score")
        as_full = [] if self.cfg.phase2_full else scoring
        for run, (method, subset) in [*((r, ("phase1", "full")) for r in scoring),
                                      *((r, ("full", "full")) for r in as_full),
                                      *((r, (r.step.method, r.step.subset)) for r in self._done("finetune"))]:
            step, file = run.step, run.step.folder / paths.PREDICTIONS_FILE
            if run.record.get("empty") or not file.exists():
                continue
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

    # --- what is left out -------------------------------------------------------------------------------

    def ignored(self) -> list[str]:
        """Finished runs on disk that the tables leave out, each with the reason."""
        cfg = self.cfg
        planned = {s.folder: s for s in self.runs.steps}
        out = []
        for marker in sorted([*cfg.results_dir.glob(f"phase1/*/{STEP_FILE}"),
                              *cfg.results_dir.glob(f"variants/*/*/{STEP_FILE}"),
                              *cfg.results_dir.glob(f"crossval/*/{STEP_FILE}"),
                              *cfg.results_dir.glob(f"phase2/*/{STEP_FILE}")]):
            folder = marker.parent
            rel = folder.relative_to(cfg.results_dir).as_posix()
            step = planned.get(folder)
            if step is None:
                out.append(f"{rel}: not in the plan (its seed, method or subset is not in study.yaml now)")
                continue
            run = self.runs[step.name]
            if not run.done:
                out.append(f"{rel}: {run.state}" + (f" ({run.problem})" if run.problem else ""))
        return out

    def manifest(self) -> dict:
        """The pair's configuration and every planned step's state and record, gathered from the store."""
        steps = {}
        for run in self.runs.runs.values():
            entry = {"state": run.state}
            if run.done:
                entry.update({k: run.record.get(k) for k in ("seed", "wall_seconds", "device", "worker", "finished")})
            steps[run.step.name] = entry
        return {"config": self.cfg.to_dict(), "results": str(self.cfg.results_dir), "steps": steps,
                "ignored": self.ignored()}


def record_of(folder) -> dict | None:
    """A step's record as written (``hscore.study.store.read_record``), for readers outside a plan."""
    return read_record(folder)
