"""The baseline registry: every baseline keeps exactly N distinct positions, chosen as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hscore.errors import UnknownNameError
from hscore.pruning import baselines
from hscore.pruning.subsets import coverage_subset, highest


def _scores(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"h": rng.integers(0, 4, n), "confidence": rng.random(n), "variability": rng.random(n),
                         "forgetting": rng.integers(0, 3, n).astype(float), "el2n": rng.random(n),
                         "dynamic_uncertainty": rng.random(n)})


@pytest.mark.parametrize("name", list(baselines.BASELINES))
@pytest.mark.parametrize("size", [0, 1, 13, 40])
def test_every_baseline_keeps_exactly_n_distinct_sorted_positions(name, size):
    chosen = baselines.choose(name, _scores(), size, seed=7)
    assert len(chosen) == size == len(set(chosen.tolist())) and chosen.tolist() == sorted(chosen.tolist())
    assert chosen.min(initial=0) >= 0 and chosen.max(initial=0) < 40


@pytest.mark.parametrize("name, column", [("ambiguous", "variability"), ("forgetting", "forgetting"),
                                          ("el2n", "el2n"), ("dynamic_uncertainty", "dynamic_uncertainty")])
def test_ranking_baselines_keep_the_highest_scores(name, column):
    scores = _scores()
    chosen = baselines.choose(name, scores, 10, seed=1)
    kept, dropped = scores[column].to_numpy()[chosen], np.delete(scores[column].to_numpy(), chosen)
    assert kept.min() >= dropped.max()


def test_highest_breaks_ties_in_training_order_and_refuses_missing_scores():
    assert highest(np.array([1.0, 2.0, 2.0, 2.0, 0.0]), 2).tolist() == [1, 2]
    with pytest.raises(ValueError, match="missing"):
        highest(np.array([1.0, np.nan]), 1)


def test_seeded_baselines_depend_on_the_seed_only():
    scores = _scores()
    for name in ("random", "ccs"):
        assert baselines.BASELINES[name].per_seed
        a, b = baselines.choose(name, scores, 12, 3), baselines.choose(name, scores, 12, 3)
        assert a.tolist() == b.tolist() and a.tolist() != baselines.choose(name, scores, 12, 4).tolist()
    assert not baselines.BASELINES["ambiguous"].per_seed


def test_coverage_subset_drops_the_hardest_and_covers_the_rest():
    difficulty = np.linspace(0, 1, 100)                  # position i has difficulty i / 99
    chosen = coverage_subset(difficulty, 30, seed=0, hard_cutoff=0.1, strata=5)
    assert len(chosen) == 30 and chosen.max() < 90      # the 10 hardest are never kept
    strata = np.digitize(difficulty[chosen], np.linspace(0, difficulty[89], 6)[1:-1])
    assert np.bincount(strata, minlength=5).tolist() == [6, 6, 6, 6, 6]   # 18 per stratum, 6 from each
    everything_but_5 = coverage_subset(difficulty, 95, seed=0, hard_cutoff=0.1)
    assert len(everything_but_5) == 95 and everything_but_5.max() == 94   # the budget shrinks the cut


def test_coverage_subset_gives_small_strata_all_they_have():
    difficulty = np.r_[np.zeros(2), np.ones(50)]       # a stratum of 2 and one of 50
    chosen = coverage_subset(difficulty, 20, seed=0, hard_cutoff=0.0, strata=2)
    assert {0, 1} <= set(chosen.tolist()) and len(chosen) == 20


def test_unknown_baseline_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="grand.*random, ambiguous, forgetting, el2n"):
        baselines.get_baseline("grand")

