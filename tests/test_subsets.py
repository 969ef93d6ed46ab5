"""The H-score subset family (the paper's seven subsets for R = 6) and the size-matched baselines."""

import numpy as np
import pytest
import torch

from hscore.errors import ConfigError
from hscore.pruning.subsets import SubsetSpec, ambiguous_subset, hscore_subset, random_subset, subset_family

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


def test_ambiguous_subset_takes_the_most_variable_by_hand():
    var = np.array([0.1, 0.5, 0.3, 0.5, 0.0, 0.4])
    assert ambiguous_subset(var, 3).tolist() == [1, 3, 5]      # 0.5, 0.5, 0.4
    assert ambiguous_subset(var, 4).tolist() == [1, 2, 3, 5]   # ... and 0.3
    assert ambiguous_subset(var, 1).tolist() == [1]            # a tie keeps training-split order
    assert ambiguous_subset(var, 0).tolist() == []


def test_label_balance_and_a_vanishing_class():
    import pandas as pd

    from hscore.analysis.balance import label_balance, vanishing_classes
    from hscore.study.selection import Subsets

    # 12 examples, labels 0 (6) and 1 (6); the winning ticket (remove 0, 3) keeps H in {1, 2}:
    # five of label 0 and one of label 1 -> label 1 falls from 50% to 17%, a third of its share.
    labels = np.array([0] * 6 + [1] * 6)
    h = np.array([1, 1, 2, 2, 1, 0, 3, 3, 3, 0, 3, 2])
    scores = pd.DataFrame({"label": labels, "h": h})
    specs = subset_family(3)
    indices = {f"hscore/{s.name}": hscore_subset(h, s) for s in specs}
    balance = label_balance(scores, Subsets(specs, indices, 12))
    assert balance["subset"].tolist() == ["full"] + [s.name for s in specs]
    ticket = balance.iloc[1]
    assert (ticket["size"], ticket["label 0"], ticket["label 1"]) == (6, 5, 1)
    assert ticket["label 1 %"] == pytest.approx(100 / 6)
    warnings = vanishing_classes(balance)
    assert not any(w.startswith("remove-0-3:") for w in warnings)   # 16.7% is not below a quarter of 50%
    assert any(w.startswith("remove-0-2-3: label 1 keeps 0") for w in warnings)   # H = 1 only: all label 0
    h[11] = 0                                              # label 1 leaves the ticket entirely
    indices = {f"hscore/{s.name}": hscore_subset(h, s) for s in specs}
    warnings = vanishing_classes(label_balance(scores, Subsets(specs, indices, 12)))
    assert any(w.startswith("remove-0-3: label 1 keeps 0 of its 6 examples") for w in warnings)
