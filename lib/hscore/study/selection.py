"""From recorded dynamics to what phase 2 trains on: the scores table and every subset.

``compute`` is a pure function of the R scoring runs' dynamics and the pair's configuration
(milliseconds): the scores table (``hscore.pruning.scores``), the H-score subsets, their
size-matched baselines (``hscore.pruning.baselines``) and the cheaper scoring's ticket
(``hscore.pruning.cheaper``) and, for a pair with ``moved_tickets``, the tickets of the variants that
moved most (``hscore.pruning.variants``). The plan's ``select`` step writes it (``write``) into the pair's
``select/`` folder; the judge of the plan (``hscore.study.run``) computes it in memory to know
what a phase-2 run will train on before the files exist. ``load_subsets`` and ``load_scores``
read the files back; no torch is needed to read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..config import SCORE_UNITS, PairConfig
from ..dynamics import TrainingDynamics
from ..errors import ConfigError, EmptySubsetError
from ..files import atomic_save_npz, atomic_write_json, atomic_write_parquet
from ..pruning.baselines import choose, get_baseline
from ..pruning.cheaper import cheaper_table, cheapest, h_from, ticket
from ..pruning.classes import class_floor as floor_of
from ..pruning.classes import class_warnings
from ..pruning.label_issues import CLEANLAB_SUBSET, issues, out_of_sample_probs
from ..pruning.methods import METHODS
from ..pruning.scores import h_score, scores_table
from ..pruning.subsets import SubsetSpec, hscore_subset, subset_family
from ..pruning.variants import most_moved


def load_dynamics(cfg: PairConfig) -> TrainingDynamics:
    """The R scoring runs' dynamics, as phase 1 recorded them, in seed order."""
    folders = [paths.phase1_run_dir(cfg.results_dir, r) for r in range(cfg.runs)]
    return TrainingDynamics.load(folders, cfg.phase1.seeds)


def load_variants(cfg: PairConfig) -> dict[str, TrainingDynamics]:
    """Each variant's scoring runs' dynamics (``variants:``), by name, in the order of ``study.yaml``."""
    out = {}
    for variant in cfg.variants:
        seeds = cfg.variant_config(variant).phase1.seeds
        out[variant.name] = TrainingDynamics.load(
            [paths.variant_run_dir(cfg.results_dir, variant.name, r) for r in range(len(seeds))], seeds)
    return out


def load_heldout(cfg: PairConfig) -> np.ndarray | None:
    """cleanlab's out-of-sample probabilities [N, C] from the pair's cross-validation runs (``cleanlab_folds``),
    every training row once; None without them."""
    if not cfg.cleanlab_folds:
        return None
    parts = []
    for k in range(cfg.cleanlab_folds):
        with np.load(paths.fold_run_dir(cfg.results_dir, k) / paths.HELDOUT_FILE) as f:
            parts.append((f["positions"], f["probs"]))
    return out_of_sample_probs(parts, sum(len(p) for p, _ in parts))


def from_store(cfg: PairConfig) -> Selection:
    """``compute`` from the pair's finished scoring runs (and its variants' and cross-validation runs) on disk."""
    return compute(cfg, load_dynamics(cfg), load_variants(cfg), load_heldout(cfg))


def unit_dynamics(cfg: PairConfig, dynamics: TrainingDynamics) -> TrainingDynamics:
    """The dynamics (as recorded, per row) per scoring unit: rows, or whole examples with
    ``score_unit: example``."""
    return by_unit(dynamics, cfg.score_unit)


def by_unit(dynamics: TrainingDynamics, score_unit: str) -> TrainingDynamics:
    """``dynamics`` per scoring unit: ``"feature"`` (rows, as recorded) or ``"example"``."""
    if score_unit not in SCORE_UNITS:
        raise ConfigError(f"score_unit = {score_unit!r}: must be one of {list(SCORE_UNITS)}")
    return dynamics.by_example() if score_unit == "example" else dynamics


@dataclass(frozen=True)
class Subsets:
    """Every training subset of phase 2: positions (of scoring units) by ``paths.subset_key``."""

    specs: list[SubsetSpec]
    indices: dict[str, np.ndarray]  # "hscore/remove-0-6", "ambiguous/remove-0-6", "random/remove-0-6/6666"
    n_full: int
    info: dict = field(default_factory=dict)  # the cheaper scoring chosen (``cheaper``), when there is one

    def positions(self, method: str, subset: str, seed: int) -> np.ndarray:
        """The positions one phase-2 run trains on (``subset == "full"``: all of them)."""
        if method == "full":
            return np.arange(self.n_full)
        if method == "equal_steps":   # the H-score subset, trained for as many updates as full data
            method = "hscore"
        per_seed = (METHODS[method] if method in METHODS else get_baseline(method)).per_seed   # unknown: one line
        return self.indices[paths.subset_key(method, subset, seed if per_seed else None)]

    def size(self, spec: SubsetSpec) -> int:
        return len(self.indices[paths.subset_key("hscore", spec.name)])

    @property
    def winning_ticket(self) -> SubsetSpec:
        return self.specs[0]

    def hscore_positions(self) -> dict[str, np.ndarray]:
        """Every H-score subset's positions by name, the winning ticket first (largest first)."""
        return {s.name: self.indices[paths.subset_key("hscore", s.name)] for s in self.specs}

    def balance_positions(self) -> dict[str, np.ndarray]:
        """What a class-balance table shows: every H-score subset and, with a class floor, each one with the
        floor after it (``<name> + floor``)."""
        out = self.hscore_positions()
        if paths.subset_key("floor", self.specs[0].name) in self.indices:
            out |= {f"{name} + floor": self.indices[paths.subset_key("floor", name)] for name in list(out)}
        return out

    def table(self) -> pd.DataFrame:
        """One row per H-score subset: kept and removed H, size, % of the full set, whether it is the
        winning ticket, and (with a class floor) its size with the floor."""
        floor = paths.subset_key("floor", self.specs[0].name) in self.indices
        return pd.DataFrame([{"subset": s.name, "kept H": s.label, "removed H": ",".join(map(str, s.removed)),
                              "size": self.size(s), "% of full": 100 * self.size(s) / self.n_full,
                              "winning ticket": s.is_winning_ticket,
                              **({"with class floor": len(self.indices[paths.subset_key("floor", s.name)])}
                                 if floor else {})} for s in self.specs])


@dataclass(frozen=True)
class Selection:
    """What the select step computes: the scores table and the subsets."""

    scores: pd.DataFrame
    subsets: Subsets

    def class_warnings(self, names=None) -> list[str]:
        """One line per class that vanishes from, or falls below half its share in, the H-score subsets
        (``hscore.pruning.classes.class_warnings``; saying so where this selection's class floor adds it
        back); ``names``: the class names."""
        return class_warnings(self.scores["label"].to_numpy(), self.subsets.hscore_positions(), names,
                              self.scores["h"].to_numpy(), self.subsets.winning_ticket.runs,
                              floor=self.subsets.info.get("class_floor"))


def compute(cfg: PairConfig, dynamics: TrainingDynamics, variants: dict[str, TrainingDynamics] | None = None,
            heldout: np.ndarray | None = None) -> Selection:
    """The scores table (one row per scoring unit), the H-score subsets, their size-matched
    baselines, (``cheaper_ticket``) the ticket of the cheapest scoring that overlaps the winning
    ticket enough and (``moved_tickets``) the tickets of the variants that moved most, from the
    recorded ``dynamics`` of the pair ``cfg`` (and each variant's, ``variants``) and (``cleanlab_folds``) full data
    minus the label issues cleanlab finds in the out-of-sample probabilities ``heldout``; nothing is written."""
    chosen = select(dynamics, baselines=cfg.baselines, phase2_seeds=cfg.phase2.seeds,
                    cheaper_ticket=cfg.cheaper_ticket, score_unit=cfg.score_unit, name=cfg.pair,
                    class_floor=cfg.class_floor)
    if cfg.moved_tickets:
        indices, info = chosen.subsets.indices, chosen.subsets.info
        units = unit_dynamics(cfg, dynamics)
        units_of = {name: unit_dynamics(cfg, dyn) for name, dyn in (variants or {}).items()}
        if sorted(units_of) != sorted(v.name for v in cfg.variants):
            raise ValueError(f"{cfg.pair}: the dynamics of every variant are needed to choose the moved tickets")
        for name, dyn in units_of.items():
            if not np.array_equal(dyn.example_id, units.example_id):
                raise ValueError(f"{cfg.pair}: variant {name} was scored on other training rows than the pair")
        moved = most_moved(units.correct, {n: d.correct for n, d in units_of.items()}, cfg.moved_tickets)
        runs = units_of[moved[0][0]].runs
        indices[paths.subset_key("moved", "base")] = ticket(h_from(units.correct, runs, units.epochs), runs)
        for k, (name, _) in enumerate(moved, start=1):
            dyn = units_of[name]
            indices[paths.subset_key("moved", f"top-{k}")] = ticket(h_score(dyn.correct), dyn.runs)
        info["moved"] = {"runs": runs, "tickets": [{"subset": f"top-{k}", "variant": name, "jaccard": overlap}
                                                   for k, (name, overlap) in enumerate(moved, start=1)]}
    if cfg.cleanlab_folds:
        if heldout is None or len(heldout) != chosen.subsets.n_full:
            raise ValueError(f"{cfg.pair}: cleanlab needs the out-of-sample probabilities of every training row")
        flagged = issues(chosen.scores["label"].to_numpy(), heldout)
        chosen.subsets.indices[paths.subset_key("cleanlab", CLEANLAB_SUBSET)] = np.flatnonzero(~flagged)
        chosen.subsets.info["cleanlab"] = {"folds": cfg.cleanlab_folds, "issues": int(flagged.sum())}
    return chosen


def select(dynamics: TrainingDynamics, *, baselines=("random", "ambiguous"), phase2_seeds=(6666,),
           cheaper_ticket: float | None = None, score_unit: str = "feature", name: str = "the runs",
           class_floor: float | None = None) -> Selection:
    """``compute`` with its settings given one by one (no study.yaml): R = the runs in ``dynamics``;
    ``baselines`` (``hscore.pruning.baselines``), each drawn per seed of ``phase2_seeds`` where it is
    random; ``cheaper_ticket``: the least Jaccard overlap of a cheaper scoring's ticket (None: none);
    ``score_unit``: ``"feature"`` (rows) or ``"example"``; ``name`` says whose runs in messages;
    ``class_floor`` (a fraction, or None): also every H-score subset with each class restored to at least
    that fraction of its share (``hscore.pruning.classes.class_floor``), as method ``floor``."""
    units = by_unit(dynamics, score_unit)
    scores = scores_table(units)
    h = scores["h"].to_numpy()
    specs = subset_family(dynamics.runs)
    indices = {}
    for spec in specs:
        chosen = hscore_subset(h, spec)
        if len(chosen) == 0 and spec.is_winning_ticket:
            raise EmptySubsetError(
                f"{name}: the winning ticket is empty: every training example has H = 0 or "
                f"H = {dynamics.runs}. The scoring runs learned everything at once or nothing at all; use more "
                "training examples (train_cap), more epochs, or another learning rate in study.yaml.")
        indices[paths.subset_key("hscore", spec.name)] = chosen
        if class_floor is not None:
            indices[paths.subset_key("floor", spec.name)] = floor_of(chosen, scores["label"].to_numpy(),
                                                                     scores["correctness"].to_numpy(), class_floor)
        for baseline in baselines:
            seeds = phase2_seeds if get_baseline(baseline).per_seed else (None,)
            for seed in seeds:
                indices[paths.subset_key(baseline, spec.name, seed)] = choose(baseline, scores, len(chosen), seed or 0)
    info = {} if class_floor is None else {"class_floor": class_floor}
    if cheaper_ticket is not None:
        correct = units.correct
        best = cheapest(cheaper_table(correct), cheaper_ticket)
        runs, epochs = int(best["runs"]), int(best["epochs"])
        indices[paths.subset_key("cheaper", specs[0].name)] = ticket(h_from(correct, runs, epochs), runs)
        info["cheaper"] = {"runs": runs, "epochs": epochs, "min_overlap": cheaper_ticket,
                           **{k: float(best[k]) for k in ("cost % of full", "jaccard with full ticket",
                                                          "spearman with full H")}}
    return Selection(scores, Subsets(specs, indices, len(h), info))


def write(folder: Path, selection: Selection) -> list[str]:
    """The select step's files, in ``folder``; returns their names."""
    subsets = selection.subsets
    npz, js = (folder / name for name in paths.SUBSETS_FILES)
    atomic_write_parquet(folder / paths.SCORES_FILE, selection.scores)
    atomic_save_npz(npz, **{k.replace("/", "|"): v for k, v in subsets.indices.items()})
    atomic_write_json(js, {"n_full": subsets.n_full, "subsets": subsets.table().to_dict(orient="records"),
                           **subsets.info})
    return [paths.SCORES_FILE, *paths.SUBSETS_FILES]


def load_subsets(cfg: PairConfig) -> Subsets:
    """The subsets the select step wrote (whether they are current is ``hscore.study.run``'s to say)."""
    npz, js = paths.subsets_files(cfg.results_dir)
    with np.load(npz) as f:
        indices = {k.replace("|", "/"): f[k] for k in f.files}
    meta = json.loads(js.read_text())
    info = {k: v for k, v in meta.items() if k not in ("n_full", "subsets")}
    return Subsets(subset_family(cfg.runs), indices, meta["n_full"], info)


def load_scores(cfg: PairConfig) -> pd.DataFrame:
    """The scores table the select step wrote."""
    return pd.read_parquet(paths.scores_file(cfg.results_dir))
