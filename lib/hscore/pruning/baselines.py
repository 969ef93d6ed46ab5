"""The size-matched baselines of phase 2, in one registry: a baseline is one pure function.

Every baseline gets the scores table of a pair (``scores.parquet``: one row per scoring unit, with
every score computed from the recorded dynamics of phase 1, no extra training), a size (the size
of the H-score subset it is matched to) and a seed (the phase-2 seed), and returns the sorted
positions it keeps. Adding one is one function and one entry in ``BASELINES``; ``study.yaml``
says which a profile trains (``baselines:``), and the plan, the subsets file, the tables and the
plots take every method from there.

Each follows its authors' reference code (``hscore.pruning.scores`` and ``subsets`` cite the
files and lines); where ours differs, the entry says so. The book shows those a profile lists
(the default and paper profiles: ``random`` and ``ambiguous``, the paper's two).

| name | keeps the N examples with | reference |
|---|---|---|
| random | the first N of a seeded ``torch.randperm`` | the official code |
| ambiguous | the highest variability of the gold probability, R x E checks pooled | cartography, as the paper pools |
| forgetting | the most forgetting events (never learned: E), ties at random | Toneva et al., 2019 |
| forgetting_balanced | the same per class, DeepCore's budgets and never-learned 0 | DeepCore (Guo et al., 2022) |
| el2n | the highest EL2N of an eval pass at the end of epoch ``el2n_epoch`` | Paul et al., 2021 (data_diet) |
| el2n_train_step | the highest EL2N of epoch 1's train-step logits (ours before) | |
| dynamic_uncertainty | the highest windowed std, windows ending before the last epoch (E >= 3) | He et al., 2024 |
| dynamic_uncertainty_all_windows | the same over every 2-epoch window, the last included (ours before) | |
| ccs | coverage of the AUM range after cutting the lowest-AUM beta (the README's, by rate) | Zheng et al., 2023 |
| ccs_confidence | the same rule on the mean gold probability (kinds without logits: QA) | |

Top-N baselines break ties at random with the phase-2 seed (``per_seed``): with 3 epochs most
examples tie on forgetting events, and training-split order would take them from the first
classes of a split sorted by label. ``ambiguous`` ranks a continuous score and keeps its
training-split order for the rare ties, so its subset is the same for every seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import UnknownNameError
from .subsets import coverage_subset, highest, highest_per_class, random_subset


@dataclass(frozen=True)
class Baseline:
    name: str
    label: str                                             # as tables and legends show it
    choose: Callable[[pd.DataFrame, int, int], np.ndarray]  # (scores, size, seed) -> sorted positions
    per_seed: bool = False                                 # its choice depends on the seed
    needs_logits: bool = False                             # ranks by a score only class logits give (EL2N, AUM)
    needs_eval_pass: bool = False                          # needs the eval pass of ``el2n_epoch`` recorded
    min_epochs: int = 1                                    # phase-1 epochs its score needs
    color: str = "#7f8c8d"
    marker: str = "o"

    def unmet(self, logits: bool, eval_pass: bool, epochs: int) -> str:
        """'' when scoring runs that kept logits (``logits``), recorded the eval pass (``eval_pass``) and ran
        ``epochs`` epochs give this baseline its score; else what is missing: ``"logits"``, ``"eval_pass"`` or
        ``"epochs"`` (the one check of the plan and of ``hscore select``, each saying it in its own words)."""
        if self.needs_logits and not logits:
            return "logits"
        if self.needs_eval_pass and not eval_pass:
            return "eval_pass"
        return "epochs" if epochs < self.min_epochs else ""


def _highest(column: str):
    return lambda scores, size, seed: highest(scores[column].to_numpy(), size, seed)


def _ccs(column: str):
    return lambda scores, size, seed: coverage_subset(scores[column].to_numpy(), size, seed)


BASELINES: dict[str, Baseline] = {b.name: b for b in (
    Baseline("random", "random", lambda scores, size, seed: random_subset(len(scores), size, seed), per_seed=True,
             color="#7f8c8d", marker="s"),
    Baseline("ambiguous", "ambiguous", lambda scores, size, seed: highest(scores["variability"].to_numpy(), size),
             color="#2874a6", marker="^"),
    Baseline("forgetting", "forgetting", _highest("forgetting"), per_seed=True, min_epochs=2, color="#7d3c98",
             marker="v"),
    Baseline("forgetting_balanced", "forgetting, per class",
             lambda scores, size, seed: highest_per_class(scores["forgetting_deepcore"].to_numpy(),
                                                          scores["label"].to_numpy(), size, seed),
             per_seed=True, min_epochs=2, color="#af7ac5", marker="<"),
    Baseline("el2n", "EL2N", _highest("el2n"), per_seed=True, needs_logits=True, needs_eval_pass=True,
             color="#d68910", marker="D"),
    Baseline("el2n_train_step", "EL2N, train steps", _highest("el2n_train_step"), per_seed=True, needs_logits=True,
             color="#f0b27a", marker="d"),
    Baseline("dynamic_uncertainty", "dynamic uncertainty", _highest("dynamic_uncertainty"), per_seed=True,
             min_epochs=3, color="#138d75", marker="P"),
    Baseline("dynamic_uncertainty_all_windows", "dynamic uncertainty, all windows",
             _highest("dynamic_uncertainty_all_windows"), per_seed=True, min_epochs=2, color="#73c6b6", marker="p"),
    Baseline("ccs", "CCS", _ccs("aum"), per_seed=True, needs_logits=True, color="#a04000", marker="X"),
    Baseline("ccs_confidence", "CCS, confidence", _ccs("confidence"), per_seed=True, color="#dc7633", marker="x"),
)}


def get_baseline(name: str) -> Baseline:
    if name not in BASELINES:
        raise UnknownNameError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    return BASELINES[name]


def choose(name: str, scores: pd.DataFrame, size: int, seed: int) -> np.ndarray:
    """The positions baseline ``name`` keeps, ``size`` of them."""
    positions = np.asarray(get_baseline(name).choose(scores, size, seed), dtype=np.int64)
    if len(positions) != size or len(np.unique(positions)) != size:
        raise AssertionError(f"baseline {name} chose {len(positions)} distinct positions instead of {size}")
    return positions
