"""The analyses of the book's result chapters on hand-made inputs whose answers are known:
bootstrap intervals (stats), cheaper scoring, per-class fairness, what is pruned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hscore.analysis import fairness, pruned, stats
from hscore.data import Split
from hscore.engine.kinds import get_kind
from hscore.metrics import macro_f1
from hscore.pruning import cheaper
from hscore.pruning.scores import h_score


def _preds(correct: np.ndarray, seeds=(1, 2, 3), label=None) -> pd.DataFrame:
    """Per-example rows of one method: ``correct`` [seeds, n] bool; predictions 0/1 against label 1."""
    correct = np.atleast_2d(correct)
    n = correct.shape[1]
    label = np.ones(n, dtype=int) if label is None else label
    return pd.concat([pd.DataFrame({"seed": s, "example_id": np.arange(n), "label": label,
                                    "prediction": np.where(c, label, 1 - label)}) for s, c in zip(seeds, correct)],
                     ignore_index=True)


# --- stats -----------------------------------------------------------------------------------

def test_identical_methods_differ_by_nothing():
    rng = np.random.default_rng(0)
    a = _preds(rng.random((3, 100)) < 0.7)
    c = stats.compare(a, a.copy(), "accuracy")
    assert (c.diff, c.low, c.high) == (0.0, 0.0, 0.0) and c.verdict == "within noise" and c.p == 1.0
    assert c.paired_seeds and c.seeds == 3 and c.examples == 100 and c.resampled == "seeds and examples"


def test_always_right_against_always_wrong_is_beyond_noise():
    c = stats.compare(_preds(np.ones((3, 50), bool)), _preds(np.zeros((3, 50), bool)), "accuracy")
    assert (c.a, c.b, c.diff, c.low, c.high, c.p) == pytest.approx((100.0, 0.0, 100.0, 100.0, 100.0, 0.0))
    assert c.verdict == "higher"
    assert stats.compare(_preds(np.zeros((3, 50), bool)), _preds(np.ones((3, 50), bool)), "accuracy").verdict == "lower"


def test_one_seed_interval_matches_the_normal_approximation():
    """One seed: only examples are resampled; a paired difference of +1 on 60 and -1 on 40 of 400
    examples is 5 points with standard error 100 * sqrt((0.25 - 0.05**2) / 400)."""
    a = np.zeros(400, bool)
    b = np.zeros(400, bool)
    a[:60] = True          # A right, B wrong
    b[60:100] = True       # B right, A wrong
    c = stats.compare(_preds(a, seeds=(6666,)), _preds(b, seeds=(6666,)), "accuracy", draws=4000)
    se = 100 * np.sqrt((0.25 - 0.05 ** 2) / 400)
    assert c.diff == pytest.approx(5.0) and c.resampled == "examples (one seed)"
    assert c.low == pytest.approx(5 - 1.96 * se, abs=0.6) and c.high == pytest.approx(5 + 1.96 * se, abs=0.6)


def test_seed_noise_widens_the_interval_and_unpaired_seeds_are_drawn_apart():
    """Same examples, but one of three seeds of A is far off: the interval must cover that spread."""
    rng = np.random.default_rng(1)
    base = rng.random(300) < 0.6
    steady = _preds(np.stack([base, base, base]))
    shaky = _preds(np.stack([base, base, rng.random(300) < 0.2]))
    c = stats.compare(shaky, steady, "accuracy")
    assert c.low < c.diff < 0 and c.high >= 0 and c.verdict == "within noise"   # one bad seed of three is noise
    other_seeds = _preds(np.stack([base, base, base]), seeds=(7, 8, 9))
    assert not stats.compare(shaky, other_seeds, "accuracy").paired_seeds


def test_per_example_metric_columns_and_non_mean_metrics():
    f1 = pd.DataFrame({"seed": 1, "example_id": np.arange(4), "f1": [100.0, 50.0, 0.0, 50.0]})
    zero = f1.assign(f1=0.0)
    c = stats.compare(f1, zero, "f1", draws=200)
    assert (c.a, c.b, c.diff) == (50.0, 0.0, 50.0) and c.low >= 0
    # macro F1 is no mean over examples: it is recomputed from the resampled predictions
    label = np.array([0, 1] * 20)
    a, b = _preds(np.ones((2, 40), bool), seeds=(1, 2), label=label), _preds(np.zeros((2, 40), bool), (1, 2), label)
    b["prediction"] = 0
    c = stats.compare(a, b, "macro_f1", draws=100)
    assert c.a == 100.0 and c.b == pytest.approx(macro_f1(np.zeros(40), label)) and c.verdict == "higher"


def test_compare_refuses_what_it_cannot_pair():
    a = _preds(np.ones((1, 5), bool), seeds=(1,))
    with pytest.raises(ValueError, match="share no evaluation example"):
        stats.compare(a, a.assign(example_id=a["example_id"] + 100), "accuracy")
    with pytest.raises(ValueError, match="one prediction per seed and example"):
        stats.compare(pd.concat([a, a]), a, "accuracy")


# --- cheaper scoring -------------------------------------------------------------------------

def _correct():
    """R = 3 runs x E = 2 epochs x N = 6 examples; columns are examples."""
    c = np.zeros((3, 2, 6), bool)
    c[:, :, 0] = True                                  # always right: H = 3
    c[0, :, 1] = True                                  # right in run 0 only: H = 1
    c[:2, :, 2] = True                                 # runs 0 and 1: H = 2
    c[:, 1, 3] = True                                  # only in the last epoch of every run: H = 0
    c[0, :, 4] = c[2, :, 4] = True                     # runs 0 and 2: H = 2
    return c                                           # example 5: never right, H = 0


def test_h_from_fewer_runs_and_epochs():
    c = _correct()
    assert cheaper.h_from(c, 3, 2).tolist() == h_score(c).tolist() == [3, 1, 2, 0, 2, 0]
    assert cheaper.h_from(c, 2, 2).tolist() == [2, 1, 2, 0, 1, 0]
    assert cheaper.h_from(c, 3, 1).tolist() == [3, 1, 2, 0, 2, 0]   # the first epoch alone
    with pytest.raises(ValueError):
        cheaper.h_from(c, 4, 1)


def test_cheaper_table_and_the_cheapest_setting():
    table = cheaper.cheaper_table(_correct())
    assert list(zip(table["runs"], table["epochs"])) == [(2, 1), (3, 1), (2, 2), (3, 2)]   # cheapest first
    full = table[(table["runs"] == 3) & (table["epochs"] == 2)].iloc[0]
    assert full["jaccard with full ticket"] == 1.0 and full["spearman with full H"] == pytest.approx(1.0)
    # full ticket {1, 2, 4}; (2 runs, 1 epoch): H = [2, 1, 2, 0, 1, 0], ticket (H = 1) {1, 4}: 2/3
    two = table.iloc[0]
    assert two["ticket size"] == 2 and two["jaccard with full ticket"] == pytest.approx(2 / 3)
    assert two["cost % of full"] == pytest.approx(100 / 3)
    best = cheaper.cheapest(table, 0.9)
    assert (best["runs"], best["epochs"]) == (3, 1)    # 3 runs of 1 epoch give the same ticket at half the cost
    assert (cheaper.cheapest(table, 0.5)["runs"], cheaper.cheapest(table, 0.5)["epochs"]) == (2, 1)


def test_jaccard_and_spearman():
    assert cheaper.jaccard(np.array([1, 2]), np.array([2, 3])) == pytest.approx(1 / 3)
    assert cheaper.jaccard(np.array([], int), np.array([], int)) == 1.0
    assert cheaper.spearman(np.array([1, 2, 3]), np.array([10, 20, 30])) == pytest.approx(1.0)
    assert cheaper.spearman(np.array([1, 2, 3]), np.array([3, 2, 1])) == pytest.approx(-1.0)
    assert np.isnan(cheaper.spearman(np.array([1, 1, 1]), np.array([1, 2, 3])))


# --- fairness --------------------------------------------------------------------------------

def test_class_rates_by_hand():
    frame = pd.DataFrame({"label": [0, 0, 0, 1, 1, 2], "prediction": [0, 0, 1, 1, 0, 2]})
    rates = fairness.class_rates(frame, range(3))
    assert rates.loc[0].tolist() == pytest.approx([2 / 3, 1 / 3, 1 / 3])   # recall, fpr (1 of 3 non-0), fnr
    assert rates.loc[1].tolist() == pytest.approx([1 / 2, 1 / 4, 1 / 2])
    assert rates.loc[2].tolist() == pytest.approx([1.0, 0.0, 0.0])


def test_cev_and_sde_by_hand():
    base = pd.DataFrame({"fpr": [0.1, 0.2], "fnr": [0.2, 0.1]}, index=[0, 1])
    assert fairness.cev_sde(base, base) == (0.0, 0.0, 2)
    model = pd.DataFrame({"fpr": [0.2, 0.2], "fnr": [0.2, 0.2]}, index=[0, 1])
    # (dFPR, dFNR): class 0 (100, 0), class 1 (0, 100); centroid (50, 50)
    cev, sde, used = fairness.cev_sde(model, base)
    assert cev == pytest.approx(5000.0) and sde == pytest.approx(100 / np.sqrt(2)) and used == 2
    zero = base.assign(fpr=[0.0, 0.2])        # class 0 has no false positives in the base: left out
    assert fairness.cev_sde(model, zero)[2] == 1


def test_fairness_table_pools_seeds_against_full_data():
    label = np.array([0, 1] * 10)
    full = pd.DataFrame({"method": "full", "subset": "full", "split": "validation", "seed": 1,
                         "example_id": np.arange(20), "label": label, "prediction": label})
    full.loc[[0, 1], "prediction"] = [1, 0]                         # one error each way
    ticket = full.assign(method="hscore", subset="remove-0-3")
    table = fairness.fairness_table(pd.concat([full, ticket]), ("neg", "pos"))
    assert set(table["method"]) == {"full", "hscore"}
    assert (table["CEV"] == 0).all() and (table["SDE"] == 0).all()   # same errors as full data
    assert table["recall neg"].tolist() == pytest.approx([90.0, 90.0])
    assert table["FPR pos"].tolist() == pytest.approx([10.0, 10.0])


def test_ticket_balance_keeps_a_late_learned_class_under_the_later_epochs_variant():
    """Class 1 is learned during epoch 1 of every run: the paper's H gives it 0 (pruned as never
    learned); H over the later epochs gives it R (pruned as easy) or keeps it where runs differ."""
    R, E, N = 3, 3, 8
    c = np.zeros((R, E, N), bool)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    c[0, :, 0] = c[1, :, 1] = True                       # class 0: learned in one run each (H = 1)
    c[:2, :, 2] = c[1:, :, 3] = True                     # H = 2
    c[0, 1:, 4] = c[1, 1:, 5] = c[:2, 1:, 6] = c[1:, 1:, 7] = True   # class 1: the same, from epoch 2 on
    table = fairness.ticket_balance(c, labels, ("a", "b")).set_index("H")
    assert table.loc["paper H (every epoch)", "b %"] == 0.0
    assert table.loc["paper H (every epoch)", "least kept class (relative)"] == 0.0
    assert table.loc["H over the last 2 epochs", "ticket size"] == 8
    assert table.loc["H over the last 2 epochs", "b %"] == 50.0
    assert list(table.index) == ["full set", "paper H (every epoch)", "H over the last 2 epochs",
                                 "H over the last epoch"]
    assert table.loc["full set", "ticket size"] == 8


# --- what is pruned --------------------------------------------------------------------------

def test_annotator_agreement_and_by_h():
    split = Split(np.array([10, 11, 12]), np.array([1, 1, 1]), {
        "question": ["q"] * 3, "context": ["c"] * 3,
        "answers": [{"text": ["the cat", "The cat."], "answer_start": [0, 0]},     # same after normalisation
                    {"text": ["dog", "cat"], "answer_start": [0, 0]},             # no overlap
                    {"text": ["one"], "answer_start": [0]}]})                     # one reference: unknown
    agree = pruned.annotator_agreement(split)
    assert agree[:2].tolist() == [1.0, 0.0] and np.isnan(agree[2])
    scores = pd.DataFrame({"example_id": [10, 11, 11, 12], "h": [3, 0, 0, 1]})   # example 11 has two windows
    by_h = pruned.agreement_by_h(scores, split)
    assert by_h.loc[0].tolist() == [2, 0.0] and by_h.loc[3].tolist() == [1, 1.0] and 1 not in by_h.index
    assert pruned.annotator_agreement(Split(np.array([1]), np.array([0]), {"text_a": ["x"]})) is None


def test_h_levels_and_examples_by_h():
    scores = pd.DataFrame({"example_id": np.arange(6), "h": [0, 0, 1, 2, 2, 2],
                           "confidence": [0.1, 0.5, 0.6, 0.9, 0.95, 0.1], "variability": [0.1] * 6})
    levels = pruned.h_levels(scores, runs=3)
    assert levels["examples"].tolist() == [2, 1, 3, 0]
    assert levels.loc[0, "hard to learn %"] == 50.0 and levels.loc[2, "hard to learn %"] == pytest.approx(100 / 3)
    texts = [f"text {i} " + "word " * 50 for i in range(6)]
    split = Split(np.arange(6), np.array([0, 1, 0, 1, 0, 1]), {"text_a": texts})
    shown = pruned.examples_by_h(scores, split, ("neg", "pos"), get_kind("classification"), per_h=2, width=40)
    assert shown.groupby("H").size().to_dict() == {0: 2, 1: 1, 2: 2}
    assert all(len(t) <= 40 for t in shown["text"]) and set(shown["label"]) <= {"neg", "pos"}
