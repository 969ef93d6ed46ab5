"""The H-score subset family (the paper's seven subsets for R = 6) and the size-matched baselines."""

import numpy as np
import pytest
import torch

from hscore.errors import ConfigError
from hscore.pruning.subsets import SubsetSpec, highest, hscore_subset, random_subset, subset_family

# The removed H values of the seven subsets the official phase2.sh trains on for R = 6.
PAPER_REMOVED = [(0, 6), (0, 1, 6), (0, 1, 2, 6), (0, 1, 2, 3, 6), (0, 1, 5, 6), (0, 1, 2, 3, 4, 6),
                 (0, 1, 2, 3, 5, 6)]


def test_r6_is_exactly_the_papers_seven_subsets():
    family = subset_family(6)
    removed = [spec.removed for spec in family]
    assert len(removed) == 7
    assert sorted(removed) == sorted(PAPER_REMOVED)
    assert removed[0] == (0, 6)  # the winning ticket first


def test_r6_kept_values_and_names():
    family = {spec.removed: spec for spec in subset_family(6)}
    assert family[(0, 6)].kept == (1, 2, 3, 4, 5)
    assert family[(0, 1, 5, 6)].kept == (2, 3, 4)
    assert family[(0, 1, 2, 3, 5, 6)].kept == (4,)
    assert family[(0, 6)].name == "remove-0-6"
    assert family[(0, 6)].label == "H 1-5"
    assert family[(0, 1, 2, 3, 5, 6)].label == "H 4"
    assert [s.is_winning_ticket for s in subset_family(6)] == [True] + [False] * 6


def test_r2_has_only_the_winning_ticket():
    # Kept ranges [1, 1]; [2, 0] and [0, 0] are empty or keep H = 0.
    family = subset_family(2)
    assert [(s.kept, s.removed) for s in family] == [((1,), (0, 2))]
    assert family[0].is_winning_ticket


def test_r3_by_hand():
    # [1, 2] (winning ticket), [2, 2]; [2, 1] is empty; [R-2, R-2] = [1, 1].
    family = subset_family(3)
    assert family[0].kept == (1, 2)
    assert sorted(s.kept for s in family) == [(1,), (1, 2), (2,)]
    assert sorted(s.removed for s in family) == [(0, 1, 3), (0, 2, 3), (0, 3)]


def test_r4_drops_the_repeated_subset():
    # [1, 3], [2, 3], [3, 3], [2, 2]; [R-2, R-2] = [2, 2] repeats and is listed once.
    family = subset_family(4)
    assert sorted(s.kept for s in family) == [(1, 2, 3), (2,), (2, 3), (3,)]


@pytest.mark.parametrize("runs", [1, 0])
def test_fewer_than_two_runs_raise(runs):
    with pytest.raises(ConfigError, match="at least 2 scoring runs"):
        subset_family(runs)


@pytest.mark.parametrize("runs", range(2, 11))
def test_family_is_nested_inside_the_winning_ticket(runs):
    family = subset_family(runs)
    ticket = family[0]
    assert ticket.is_winning_ticket and ticket.kept == tuple(range(1, runs))
    assert len({s.kept for s in family}) == len(family)
    h = np.random.default_rng(runs).integers(0, runs + 1, size=200)
    in_ticket = set(hscore_subset(h, ticket).tolist())
    for spec in family:
        assert spec.kept and set(spec.kept) <= set(ticket.kept)
        assert 0 in spec.removed and runs in spec.removed
        assert set(hscore_subset(h, spec).tolist()) <= in_ticket


def test_hscore_subset_by_hand():
    h = np.array([0, 3, 1, 2, 1, 3, 0, 2])
    assert hscore_subset(h, SubsetSpec(3, (1, 2))).tolist() == [2, 3, 4, 7]
    assert hscore_subset(h, SubsetSpec(3, (2,))).tolist() == [3, 7]
    assert hscore_subset(h, SubsetSpec(3, (1,))).tolist() == [2, 4]
    assert hscore_subset(np.array([0, 3, 3, 0]), SubsetSpec(3, (1, 2))).tolist() == []


def test_random_subset_is_the_sorted_head_of_torch_randperm():
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(6666)).tolist()
    expected = sorted(perm[:12])
    assert random_subset(50, 12, 6666).tolist() == expected


def test_random_subset_is_seeded():
    a, b = random_subset(100, 30, 1), random_subset(100, 30, 1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, random_subset(100, 30, 2))
    assert len(set(a.tolist())) == 30 and a.min() >= 0 and a.max() < 100
    assert np.all(np.diff(a) > 0)


def test_random_subset_sizes_are_nested_prefixes():
    small, large = set(random_subset(80, 10, 3).tolist()), set(random_subset(80, 40, 3).tolist())
    assert small <= large
    assert random_subset(80, 0, 3).tolist() == []
    assert random_subset(80, 80, 3).tolist() == list(range(80))


def test_the_ambiguous_baselines_rule_takes_the_most_variable_by_hand():
    var = np.array([0.1, 0.5, 0.3, 0.5, 0.0, 0.4])
    assert highest(var, 3).tolist() == [1, 3, 5]      # 0.5, 0.5, 0.4
    assert highest(var, 4).tolist() == [1, 2, 3, 5]   # ... and 0.3
    assert highest(var, 1).tolist() == [1]            # a tie keeps training-split order
    assert highest(var, 0).tolist() == []


def test_class_balance_and_one_warning_per_class_that_falls_away():
    from hscore.pruning.classes import class_balance, class_warnings

    # 12 examples, labels 0 (6) and 1 (6); the winning ticket (remove 0, 3) keeps H in {1, 2}:
    # five of label 0 and one of label 1 -> label 1 falls from 50% to 17%, a third of its share.
    labels = np.array([0] * 6 + [1] * 6)
    h = np.array([1, 1, 2, 2, 1, 0, 3, 3, 3, 0, 3, 2])
    subsets = {s.name: hscore_subset(h, s) for s in subset_family(3)}
    balance = class_balance(labels, subsets, ["neg", "pos"])
    assert balance["subset"].tolist() == ["full"] + list(subsets)
    ticket = balance.iloc[1]
    assert (ticket["size"], ticket["neg"], ticket["pos"]) == (6, 5, 1)
    assert ticket["pos %"] == pytest.approx(100 / 6) and ticket["least kept (relative)"] == pytest.approx(1 / 3)
    (line,) = class_warnings(labels, subsets, ["neg", "pos"], h, 3)   # one line for the class, at the ticket
    assert line == ("class 'pos' (50.0% of the 12 training examples) falls to 16.7% of the winning ticket (1 of its 6 "
                    "examples kept; 1 have H = 0 and 4 H = 3): a model trained on it sees the class rarely; "
                    "class_floor keeps it")
    assert class_warnings(labels, subsets, threshold=0.3) == [   # above 30% of its share in the ticket: the next one
        "class '1' (50.0% of the 12 training examples) vanishes from subset remove-0-2-3 (0 of its 6 examples kept): "
        "a model trained on it never sees the class; class_floor keeps it"]
    h[11] = 0                                              # label 1 leaves the ticket entirely
    subsets = {s.name: hscore_subset(h, s) for s in subset_family(3)}
    (line,) = class_warnings(labels, subsets, ["neg", "pos"])
    assert "vanishes from the winning ticket (0 of its 6 examples kept)" in line
    assert class_balance(labels, subsets)["least kept (relative)"].iloc[1] == 0


def test_the_class_floor_adds_back_each_classs_best_learned_examples():
    from hscore.pruning.classes import class_floor

    labels = np.array([0] * 8 + [1] * 4)                  # 12 examples; the subset holds six of class 0
    subset = np.arange(6)
    correctness = np.array([0.5] * 8 + [0.1, 0.9, 0.4, 0.9])
    kept = class_floor(subset, labels, correctness, 0.5)  # class 1: at least 1/6 of the subset as returned: 2 of 8
    assert kept.tolist() == [0, 1, 2, 3, 4, 5, 9, 11]     # the most often right; a tie keeps training order
    kept = class_floor(subset, labels, correctness, 1.0)  # its full share, a third: 3 of 9
    assert kept.tolist() == [0, 1, 2, 3, 4, 5, 9, 10, 11]
    rng = np.random.default_rng(1)                        # any subset: every class at its floor of the result
    for _ in range(50):
        many = rng.integers(0, 4, 200)
        some = np.flatnonzero(rng.random(200) < rng.random() * (1 + 3 * (many == 0)))
        for floor in (0.3, 0.5, 1.0):
            out = class_floor(some, many, rng.random(200), floor)
            assert set(some) <= set(out) and len(out) >= len(some)
            shares = np.bincount(many[out], minlength=4) / len(out) / (np.bincount(many, minlength=4) / 200)
            assert shares.min() >= floor - 1e-9 or len(some) == 0
    assert class_floor(np.arange(12), labels, correctness, 1.0).tolist() == list(range(12))   # nothing to add
    with pytest.raises(ValueError, match="class_floor = 0"):
        class_floor(subset, labels, correctness, 0)
