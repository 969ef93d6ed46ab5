"""The H-score subset family and its size-matched baselines: pure functions returning positions.

A subset is named by the H values it removes, as in the paper. For R = 6 the official
``phase2.sh`` trains on seven subsets (kept H values in brackets):

    remove 0,6 [1-5] (the winning ticket), 0,1,6 [2-5], 0,1,2,6 [3-5], 0,1,2,3,6 [4-5],
    0,1,2,3,4,6 [5], 0,1,5,6 [2-4], 0,1,2,3,5,6 [4]

For any R this generalises to the kept ranges [1, R-1] (the winning ticket), [a, R-1] for
a = 2..R-1, [2, R-2] and [R-2, R-2], without the empty and repeated ones. The examples every run
always got right (H = R) and those no run got right in every epoch (H = 0) are never kept.

Positions index the (capped) training split, in the order of ``scores.parquet``. The building
blocks of the size-matched baselines (``hscore.pruning.baselines`` holds the registry): ``random_subset``,
the first N of a seeded ``torch.randperm`` (the official code's); ``highest``, the N highest
scores; ``coverage_subset``, coverage-centric selection over a difficulty score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class SubsetSpec:
    """A subset of the H-score family: the H values it keeps and removes, out of 0..R."""

    runs: int
    kept: tuple[int, ...]

    @property
    def removed(self) -> tuple[int, ...]:
        return tuple(h for h in range(self.runs + 1) if h not in self.kept)

    @property
    def name(self) -> str:
        """Stable id: ``remove-0-6`` (the removed H values)."""
        return "remove-" + "-".join(map(str, self.removed))

    @property
    def label(self) -> str:
        """For tables and plots: ``H 1-5`` or ``H 4``."""
        lo, hi = self.kept[0], self.kept[-1]
        return f"H {lo}" if lo == hi else f"H {lo}-{hi}"

    @property
    def is_winning_ticket(self) -> bool:
        return self.kept == tuple(range(1, self.runs))


def subset_family(runs: int) -> list[SubsetSpec]:
    """The H-score subsets for R scoring runs, the winning ticket first."""
    if runs < 2:
        raise ConfigError(f"H-score subsets need at least 2 scoring runs (phase1.seeds), got {runs}")
    ranges = [(1, runs - 1)] + [(a, runs - 1) for a in range(2, runs)] + [(2, runs - 2), (runs - 2, runs - 2)]
    out, seen = [], set()
    for lo, hi in ranges:
        if 1 <= lo <= hi <= runs - 1 and (lo, hi) not in seen:
            seen.add((lo, hi))
            out.append(SubsetSpec(runs, tuple(range(lo, hi + 1))))
    return out


def hscore_subset(h: np.ndarray, spec: SubsetSpec) -> np.ndarray:
    """Positions of the examples whose H value the subset keeps."""
    return np.flatnonzero(np.isin(h, spec.kept))


def random_subset(n_total: int, size: int, seed: int) -> np.ndarray:
    """The first ``size`` positions of a seeded random permutation (sorted)."""
    import torch  # only here: the readers of results import this module without torch

    perm = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed)).numpy()
    return np.sort(perm[:size])


def highest(values: np.ndarray, size: int) -> np.ndarray:
    """The positions of the ``size`` highest values (sorted); ties keep training-split order."""
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("cannot rank by a score that is missing (NaN) for some examples")
    return np.sort(np.argsort(-values, kind="stable")[:size])


def ambiguous_subset(variability: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` most variable examples (Dataset Cartography's ambiguous region)."""
    return highest(variability, size)


def coverage_subset(difficulty: np.ndarray, size: int, seed: int, hard_cutoff: float = 0.1,
                    strata: int = 50) -> np.ndarray:
    """Coverage-centric coreset selection (Zheng et al., ICLR 2023), ``size`` positions (sorted).

    Drop the hardest ``hard_cutoff`` fraction (less when the budget needs them), split the rest's
    score range into ``strata`` equal-width strata, and give each stratum, smallest first,
    ``min(its size, remaining budget // remaining strata)`` examples drawn at random (``seed``);
    what flooring leaves of the budget is drawn at random from the examples not yet chosen."""
    difficulty = np.asarray(difficulty, dtype=np.float64)
    n = len(difficulty)
    if not 0 <= size <= n:
        raise ValueError(f"size must be in 0..{n}, got {size}")
    rng = np.random.default_rng(seed)
    cut = min(int(hard_cutoff * n), n - size)
    pool = np.sort(np.argsort(-difficulty, kind="stable")[cut:])            # the hardest `cut` removed
    lo, hi = difficulty[pool].min(initial=0.0), difficulty[pool].max(initial=0.0)
    edges = np.linspace(lo, hi, strata + 1)
    which = np.clip(np.searchsorted(edges, difficulty[pool], side="right") - 1, 0, strata - 1)
    groups = sorted((pool[which == k] for k in range(strata)), key=len)
    chosen, budget = [], size
    for left, group in zip(range(len(groups), 0, -1), groups):
        take = min(len(group), budget // left)
        chosen.append(rng.choice(group, take, replace=False) if take else group[:0])
        budget -= take
    chosen = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    if budget:
        rest = np.setdiff1d(pool, chosen)
        chosen = np.concatenate([chosen, rng.choice(rest, budget, replace=False)])
    return np.sort(chosen.astype(np.int64))
