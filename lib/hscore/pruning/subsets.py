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
scores, ties broken at random with a seed (or in training-split order without one);
``highest_per_class``, DeepCore's class-balanced top N; ``coverage_subset``, coverage-centric
coreset selection as its authors' ``train.py --coreset-mode stratified`` runs it.
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


def nested_chain(runs: int) -> list[SubsetSpec]:
    """The nested subsets of the family, largest first: H 1..R-1 (the winning ticket), 2..R-1, .., R-1."""
    return [s for s in subset_family(runs) if s.kept[-1] == runs - 1]


def hscore_subset(h: np.ndarray, spec: SubsetSpec) -> np.ndarray:
    """Positions of the examples whose H value the subset keeps."""
    return np.flatnonzero(np.isin(h, spec.kept))


def random_subset(n_total: int, size: int, seed: int) -> np.ndarray:
    """The first ``size`` positions of a seeded random permutation (sorted)."""
    import torch  # only here: the readers of results import this module without torch

    perm = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed)).numpy()
    return np.sort(perm[:size])


def _descending(values: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Positions by decreasing value; ties in training-split order, or in a random order from ``rng``."""
    if rng is None:
        return np.argsort(-values, kind="stable")
    perm = rng.permutation(len(values))
    return perm[np.argsort(-values[perm], kind="stable")]


def _ranked(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("cannot rank by a score that is missing (NaN) for some examples")
    return values


def highest(values: np.ndarray, size: int, seed: int | None = None) -> np.ndarray:
    """The positions of the ``size`` highest values (sorted). Ties are broken uniformly at random
    with ``seed``; without one they keep training-split order, which on a split sorted by label
    takes the ties from the first classes (a score with few distinct values, such as forgetting
    events after 3 epochs, is nearly all ties). The authors' selections leave tie order to an
    unstable sort (data_diet ``scores.argsort()[-size:]``, DeepCore ``argsort()[::-1]``)."""
    values = _ranked(values)
    if not 0 <= size <= len(values):
        raise ValueError(f"size must be in 0..{len(values)}, got {size}")
    rng = None if seed is None else np.random.default_rng(seed)
    return np.sort(_descending(values, rng)[:size])


def class_budgets(class_sizes, size: int) -> np.ndarray:
    """Per-class budgets of DeepCore's balanced selection: ``round(size / N * n_c)`` (Python's round,
    half to even; ``deepcore/methods/forgetting.py`` ``Forgetting.select``, lines 73-78), then the
    difference from ``size`` (DeepCore returns whatever the rounding gives, at most C/2 off) moved by
    largest remainder: to the classes rounded down most, or from those rounded up most (ties: the
    lower class first)."""
    n_c = np.asarray(class_sizes, dtype=np.int64)
    total = int(n_c.sum())
    if not 0 <= size <= total:
        raise ValueError(f"size must be in 0..{total}, got {size}")
    raw = size / total * n_c if total else np.zeros(len(n_c))
    budgets = np.array([round(float(r)) for r in raw], dtype=np.int64)
    diff, remainder = size - int(budgets.sum()), raw - budgets
    if diff > 0:
        for c in [c for c in np.argsort(-remainder, kind="stable") if budgets[c] < n_c[c]][:diff]:
            budgets[c] += 1
    elif diff < 0:
        for c in [c for c in np.argsort(remainder, kind="stable") if budgets[c] > 0][:-diff]:
            budgets[c] -= 1
    return budgets


def highest_per_class(values: np.ndarray, labels: np.ndarray, size: int, seed: int | None = None) -> np.ndarray:
    """DeepCore's class-balanced top N (``Forgetting.select`` with ``balance=True``, its default): per
    class, in label order, the ``class_budgets`` highest values of that class, ties at random with
    ``seed`` (sorted positions, ``size`` of them)."""
    values, labels = _ranked(values), np.asarray(labels)
    if len(values) != len(labels):
        raise ValueError("values and labels must have the same length")
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    budgets = class_budgets([len(m) for m in members], size)
    rng = None if seed is None else np.random.default_rng(seed)
    chosen = [idx[_descending(values[idx], rng)[:b]] for idx, b in zip(members, budgets)]
    return np.sort(np.concatenate(chosen).astype(np.int64)) if chosen else np.zeros(0, dtype=np.int64)


CCS_STRATA = 50   # core/data/Coreset.py stratified_sampling: ``stratas = 50``, fixed
CCS_HARD_CUT = {0.8: 0.2, 0.9: 0.3}
"""The hard-cut ratio beta (``--mis-ratio``) of the authors' README commands, by pruning rate:
ImageNet 80% -> 0.2 and 90% -> 0.3 (CIFAR-10 90% -> 0.3). The README gives no other rate; the
paper tunes beta per dataset and rate (grid search). ``ccs_hard_cut_ratio`` applies each README
value from its rate up, and no cut below 80% (our policy where the README is silent)."""


def ccs_hard_cut_ratio(prune_rate: float) -> float:
    """beta for a pruning rate (``1 - size / N``): ``CCS_HARD_CUT`` of the largest README rate not above
    it, 0 below the smallest."""
    eligible = [rate for rate in CCS_HARD_CUT if rate <= prune_rate + 1e-9]
    return CCS_HARD_CUT[max(eligible)] if eligible else 0.0


def _strata_budgets(counts: np.ndarray, budget: int) -> np.ndarray:
    """``bin_allocate`` (Coreset.py lines 75-94): strata visited from the smallest up (stable order among
    equal counts), each given ``min(its count, remaining budget // strata not yet visited)``. This
    water-filling always hands out ``min(budget, sum(counts))``."""
    out = np.zeros(len(counts), dtype=np.int64)
    rest = int(budget)
    for visited, k in enumerate(np.argsort(counts, kind="stable")):
        out[k] = min(int(counts[k]), rest // (len(counts) - visited))
        rest -= out[k]
    return out


def coverage_subset(easiness: np.ndarray, size: int, seed: int, hard_cut_ratio: float | None = None,
                    strata: int = CCS_STRATA) -> np.ndarray:
    """Coverage-centric coreset selection (Zheng et al., ICLR 2023) as the authors' ``train.py
    --coreset-mode stratified`` runs it (lines 135-141; ``core/data/Coreset.py``), ``size`` positions
    (sorted). ``easiness``: the score CCS cuts and stratifies by, higher = easier (the README's "CCS
    with AUM": ``aum``).

    1. Hard cut (``mislabel_mask``): drop the ``int(beta * N)`` examples of lowest ``easiness``, the
       hardest and likeliest mislabelled; beta = ``hard_cut_ratio``, by default
       ``ccs_hard_cut_ratio(1 - size / N)``.
    2. Strata over the kept pool's own range: ``lo = min``, ``hi = max * 1.0001``, ``strata``
       equal-width intervals ``[lo + k step, lo + (k + 1) step)``.
    3. Budgets by ``_strata_budgets``; within each stratum a uniform random draw (``seed``; the
       authors' ``torch.randperm`` is unseeded). Ties in the cut are broken at random too (theirs: an
       unstable ``torch.argsort``).

    ValueError where the rule cannot give ``size`` examples (more than survive the cut; or, as in the
    authors' code, a pool whose maximum is <= 0, whose largest score lies in no stratum), where the
    authors' code would silently return fewer."""
    easiness = _ranked(easiness)
    n = len(easiness)
    if not 0 <= size <= n:
        raise ValueError(f"size must be in 0..{n}, got {size}")
    beta = ccs_hard_cut_ratio(1 - size / n if n else 0.0) if hard_cut_ratio is None else hard_cut_ratio
    cut = int(beta * n)
    if size > n - cut:
        raise ValueError(f"CCS cannot keep {size} of {n} examples after cutting the {cut} hardest (beta = {beta:g})")
    rng = np.random.default_rng(seed)
    pool = _descending(-easiness, rng)[cut:]                      # ascending easiness, the hardest `cut` removed
    score = easiness[pool]
    if size == 0 or len(pool) == 0:
        return np.zeros(0, dtype=np.int64)
    lo, hi = score.min(), score.max() * 1.0001
    step = (hi - lo) / strata
    members = [pool[(score >= lo + k * step) & (score < lo + (k + 1) * step)] for k in range(strata)]
    budgets = _strata_budgets(np.array([len(m) for m in members]), size)
    chosen = np.concatenate([m[rng.permutation(len(m))[:b]] for m, b in zip(members, budgets)])
    if len(chosen) != size:
        raise ValueError(f"CCS's strata hold {len(chosen)} of the {size} examples asked for: the pool's largest "
                         "score is <= 0, so it lies in no stratum (the authors' range is [min, 1.0001 max))")
    return np.sort(chosen.astype(np.int64))
