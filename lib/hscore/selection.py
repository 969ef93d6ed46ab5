"""From recorded dynamics to what phase 2 trains on: the scores table and every subset, on disk.

Both are pure functions of the R scoring runs' dynamics, recomputed in milliseconds by the plan's
``select`` step and written atomically (two processes computing them at once write the same
bytes). Phase-2 steps read them back with ``load_subsets``; the readers of results need no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import paths
from .config import PairConfig
from .dynamics import TrainingDynamics
from .errors import EmptySubsetError, MissingResultError
from .scores import scores_table
from .store import atomic_save_npz, atomic_write_json, atomic_write_parquet
from .baselines import choose, get_baseline
from .cheaper import cheaper_table, cheapest, h_from, ticket
from .subsets import SubsetSpec, hscore_subset, subset_family


def load_dynamics(cfg: PairConfig) -> TrainingDynamics:
    """The R scoring runs' dynamics, as phase 1 recorded them."""
    folders = [paths.phase1_run_dir(cfg.results_dir, r) for r in range(cfg.runs)]
    return TrainingDynamics.load(folders, cfg.phase1.seeds)


def compute_scores(cfg: PairConfig, dynamics: TrainingDynamics | None = None) -> pd.DataFrame:
    """The scores table, one row per scoring unit (a training row, or a whole example with
    ``score_unit: example``), written to ``scores.parquet``."""
    table = scores_table(unit_dynamics(cfg, dynamics))
    atomic_write_parquet(paths.scores_file(cfg.results_dir), table)
    return table


def load_scores(cfg: PairConfig) -> pd.DataFrame:
    """The scores table written by phase 1 (``compute_scores``)."""
    path = paths.scores_file(cfg.results_dir)
    if not path.exists():
        raise MissingResultError(f"{path} does not exist: run phase 1 first (`hscore run --profile {cfg.profile} "
                                 f"--pair {cfg.model}/{cfg.task}`, or notebooks/scoring.ipynb)")
    return pd.read_parquet(path)


@dataclass(frozen=True)
class Subsets:
    """Every training subset of phase 2: positions (of scoring units) by ``paths.subset_key``."""

    specs: list[SubsetSpec]
    indices: dict[str, np.ndarray]  # "hscore/remove-0-6", "ambiguous/remove-0-6", "random/remove-0-6/6666"
    n_full: int

    def positions(self, method: str, subset: str, seed: int) -> np.ndarray:
        """The positions one phase-2 run trains on (``subset == "full"``: all of them)."""
        if method == "full":
            return np.arange(self.n_full)
        per_seed = method not in ("hscore", "cheaper") and get_baseline(method).per_seed
        return self.indices[paths.subset_key(method, subset, seed if per_seed else None)]

    def size(self, spec: SubsetSpec) -> int:
        return len(self.indices[paths.subset_key("hscore", spec.name)])

    @property
    def winning_ticket(self) -> SubsetSpec:
        return self.specs[0]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"subset": s.name, "kept H": s.label, "removed H": ",".join(map(str, s.removed)),
                              "size": self.size(s), "% of full": 100 * self.size(s) / self.n_full,
                              "winning ticket": s.is_winning_ticket} for s in self.specs])


def unit_dynamics(cfg: PairConfig, dynamics: TrainingDynamics | None = None) -> TrainingDynamics:
    """The scoring runs' dynamics (as recorded, per row; read from the results when not given) per
    scoring unit: rows, or whole examples with ``score_unit: example``."""
    dynamics = load_dynamics(cfg) if dynamics is None else dynamics
    return dynamics.by_example() if cfg.score_unit == "example" else dynamics


def compute_subsets(cfg: PairConfig, scores: pd.DataFrame, dynamics: TrainingDynamics | None = None) -> Subsets:
    """The H-score subsets, their size-matched baselines and (``cheaper_ticket``) the ticket of the
    cheapest scoring that overlaps the winning ticket enough (``hscore.cheaper``; from the recorded
    ``dynamics``, read from the results when not given), written to ``subsets.npz``/``.json``."""
    h = scores["h"].to_numpy()
    specs = subset_family(cfg.runs)
    indices = {}
    for spec in specs:
        chosen = hscore_subset(h, spec)
        if len(chosen) == 0 and spec.is_winning_ticket:
            raise EmptySubsetError(
                f"{cfg.model}/{cfg.task}: the winning ticket is empty: every training example has H = 0 or "
                f"H = {cfg.runs}. The scoring runs learned everything at once or nothing at all; use more "
                "training examples (train_cap), more epochs, or another learning rate in study.yaml.")
        indices[paths.subset_key("hscore", spec.name)] = chosen
        for name in cfg.baselines:
            seeds = cfg.phase2.seeds if get_baseline(name).per_seed else (None,)
            for seed in seeds:
                indices[paths.subset_key(name, spec.name, seed)] = choose(name, scores, len(chosen), seed or 0)
    info = {}
    if cfg.cheaper_ticket is not None:
        correct = unit_dynamics(cfg, dynamics).correct
        if correct.shape[2] != len(h):
            raise ValueError(f"the dynamics hold {correct.shape[2]} scoring units, the scores {len(h)}")
        best = cheapest(cheaper_table(correct), cfg.cheaper_ticket)
        runs, epochs = int(best["runs"]), int(best["epochs"])
        indices[paths.subset_key("cheaper", specs[0].name)] = ticket(h_from(correct, runs, epochs), runs)
        info["cheaper"] = {"runs": runs, "epochs": epochs, "min_overlap": cfg.cheaper_ticket,
                           **{k: float(best[k]) for k in ("cost % of full", "jaccard with full ticket",
                                                          "spearman with full H")}}
    subsets = Subsets(specs, indices, len(h))
    npz, js = paths.subsets_files(cfg.results_dir)
    atomic_save_npz(npz, **{k.replace("/", "|"): v for k, v in indices.items()})
    atomic_write_json(js, {"n_full": len(h), "subsets": subsets.table().to_dict(orient="records"), **info})
    return subsets


VANISHING = 0.25  # a class keeping less than this fraction of its share of the full set "nearly vanishes"


def label_balance(scores: pd.DataFrame, subsets: Subsets) -> pd.DataFrame:
    """Examples per label in the full set and in every H-score subset (count and % of the subset)."""
    labels = scores["label"].to_numpy()
    classes = np.unique(labels)
    rows = [("full", np.arange(len(labels)))] + [(spec.name, subsets.positions("hscore", spec.name, 0))
                                                 for spec in subsets.specs]
    out = []
    for name, positions in rows:
        counts = np.array([(labels[positions] == c).sum() for c in classes])
        total = max(counts.sum(), 1)
        out.append({"subset": name, "size": int(counts.sum()),
                    **{f"label {c}": int(n) for c, n in zip(classes, counts)},
                    **{f"label {c} %": 100 * n / total for c, n in zip(classes, counts)}})
    return pd.DataFrame(out)


def vanishing_classes(balance: pd.DataFrame) -> list[str]:
    """A warning per (subset, label) whose share fell below ``VANISHING`` of its share in the full set."""
    full = balance.iloc[0]
    warnings = []
    for _, row in balance.iloc[1:].iterrows():
        for col in [c for c in balance.columns if c.endswith(" %")]:
            if row["size"] and full[col] > 0 and row[col] < VANISHING * full[col]:
                label = col.removesuffix(" %")
                warnings.append(f"{row['subset']}: {label} keeps {row[label]} of its {full[label]} examples "
                                f"({row[col]:.1f}% of the subset against {full[col]:.1f}% of the full set)")
    return warnings


def select(cfg: PairConfig) -> Subsets:
    """The plan's ``select`` step: scores and subsets from the recorded scoring runs."""
    dynamics = load_dynamics(cfg)
    return compute_subsets(cfg, compute_scores(cfg, dynamics), dynamics)


def load_subsets(cfg: PairConfig) -> Subsets:
    """The subsets written by ``compute_subsets``."""
    npz, js = paths.subsets_files(cfg.results_dir)
    if not npz.exists() or not js.exists():
        raise MissingResultError(f"{npz} does not exist: the pair's select step has not run (run phase 1 first)")
    with np.load(npz) as f:
        indices = {k.replace("|", "/"): f[k] for k in f.files}
    return Subsets(subset_family(cfg.runs), indices, json.loads(js.read_text())["n_full"])
