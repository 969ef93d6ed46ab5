"""The size-matched baselines of phase 2, in one registry: a baseline is one pure function.

Every baseline gets the scores table of a pair (``scores.parquet``: one row per scoring unit, with
every score computed from the recorded dynamics of phase 1, no extra training), a size (the size
of the H-score subset it is matched to) and a seed (the phase-2 seed), and returns the sorted
positions it keeps. Adding one is one function and one entry in ``BASELINES``; ``study.yaml``
says which a profile trains (``baselines:``), and the plan, the subsets file, the tables and the
plots take every method from there.

| name | keeps the N examples with | reference |
|---|---|---|
| random | the first N of a seeded ``torch.randperm`` (the official code's) | |
| ambiguous | the highest variability of the gold probability | Swayamdipta et al., 2020 |
| forgetting | the most forgetting events (never-learned: the most) | Toneva et al., 2019 |
| el2n | the highest first-epoch error L2 norm (needs logits) | Paul et al., 2021 |
| dynamic_uncertainty | the highest windowed std of the gold probability | He et al., 2024 |
| ccs | coverage of the difficulty range (1 - confidence), 10% hardest cut, 50 strata | Zheng et al., 2023 |

``per_seed`` baselines draw at random, so they are drawn again for every phase-2 seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import UnknownNameError
from .subsets import coverage_subset, highest, random_subset


@dataclass(frozen=True)
class Baseline:
    name: str
    label: str                                             # as tables and legends show it
    choose: Callable[[pd.DataFrame, int, int], np.ndarray]  # (scores, size, seed) -> sorted positions
    per_seed: bool = False                                 # its choice depends on the seed
    needs_logits: bool = False                             # reads a score only logits give (EL2N)
    color: str = "#7f8c8d"
    marker: str = "o"


def _highest(column: str):
    return lambda scores, size, seed: highest(scores[column].to_numpy(), size)


BASELINES: dict[str, Baseline] = {b.name: b for b in (
    Baseline("random", "random", lambda scores, size, seed: random_subset(len(scores), size, seed), per_seed=True,
             color="#7f8c8d", marker="s"),
    Baseline("ambiguous", "ambiguous", _highest("variability"), color="#2874a6", marker="^"),
    Baseline("forgetting", "forgetting", _highest("forgetting"), color="#7d3c98", marker="v"),
    Baseline("el2n", "EL2N", _highest("el2n"), needs_logits=True, color="#d68910", marker="D"),
    Baseline("dynamic_uncertainty", "dynamic uncertainty", _highest("dynamic_uncertainty"), color="#138d75",
             marker="P"),
    Baseline("ccs", "CCS", lambda scores, size, seed: coverage_subset(1 - scores["confidence"].to_numpy(), size, seed),
             per_seed=True, color="#a04000", marker="X"),
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
