"""H-score, success rate and Dataset-Cartography statistics against hand-computed small cases."""

import math

import numpy as np
import pytest

from hscore.dynamics import TrainingDynamics
from hscore.pruning.scores import (
    aum,
    confidence,
    correctness,
    dynamic_uncertainty,
    dynamic_uncertainty_all_windows,
    el2n,
    el2n_train_step,
    forgetting_events,
    h_histogram,
    h_score,
    scores_table,
    success_rate,
    variability,
)

# correct[r, e, i] for R = 3 runs, E = 2 epochs, N = 4 examples.
CORRECT = np.array([
    [[1, 1, 0, 1],    # run 0, epoch 0
     [1, 0, 0, 1]],   # run 0, epoch 1  -> right in every epoch: examples 0, 3
    [[1, 1, 1, 0],    # run 1, epoch 0
     [1, 1, 1, 1]],   # run 1, epoch 1  -> examples 0, 1, 2
    [[1, 0, 0, 1],    # run 2, epoch 0
     [1, 1, 0, 1]],   # run 2, epoch 1  -> examples 0, 3
], dtype=bool)
# By hand: H = runs right in every epoch = [3, 1, 1, 2]; success rate = H / 3.
H_EXPECTED = [3, 1, 1, 2]
# Correctness = ones among the 6 checks: example 0: 6, example 1: 4, example 2: 2, example 3: 5.
CORRECTNESS_EXPECTED = [6 / 6, 4 / 6, 2 / 6, 5 / 6]

# gold_prob[r, e, i]; the six values of each example, in (run, epoch) order, are
#   example 0: 0.5 x 6                       -> mean 0.5, std 0
#   example 1: 0.1 0.3 0.1 0.3 0.1 0.3       -> mean 0.2, std 0.1
#   example 2: 0 0 0 1 1 1                   -> mean 0.5, std 0.5
#   example 3: 0.9 0.9 0.9 0.9 0.9 0.3       -> mean 0.8, std sqrt((5 * 0.01 + 0.25) / 6) = sqrt(0.05)
_VALUES = np.array([
    [0.5] * 6,
    [0.1, 0.3, 0.1, 0.3, 0.1, 0.3],
    [0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
    [0.9, 0.9, 0.9, 0.9, 0.9, 0.3],
])
GOLD_PROB = _VALUES.T.reshape(3, 2, 4).astype(np.float32)
CONFIDENCE_EXPECTED = [0.5, 0.2, 0.5, 0.8]
VARIABILITY_EXPECTED = [0.0, 0.1, 0.5, math.sqrt(0.05)]


def test_gold_prob_layout_is_as_written():
    assert GOLD_PROB[1, 1, 2] == 1.0
    assert GOLD_PROB[2, 1, 3] == pytest.approx(0.3) and GOLD_PROB[0, 1, 1] == pytest.approx(0.3)


def test_h_score_by_hand():
    h = h_score(CORRECT)
    assert h.tolist() == H_EXPECTED
    assert h.dtype == np.int64


def test_h_score_needs_every_epoch_right_not_any():
    # Right in the last epoch of every run but wrong in the first: H = 0 although correctness is 1/2.
    correct = np.zeros((4, 3, 1), dtype=bool)
    correct[:, -1, 0] = True
    assert h_score(correct).tolist() == [0]
    assert correctness(correct).tolist() == [pytest.approx(4 / 12)]


def test_h_score_accepts_integer_arrays():
    assert h_score(CORRECT.astype(np.int8)).tolist() == H_EXPECTED


def test_h_score_bounds_with_single_epoch():
    # With E = 1, H is simply the number of runs that got the example right.
    correct = np.array([[[1, 0, 1]], [[1, 0, 0]]], dtype=bool)
    assert h_score(correct).tolist() == [2, 0, 1]


def test_success_rate_by_hand():
    np.testing.assert_allclose(success_rate(CORRECT), [1.0, 1 / 3, 1 / 3, 2 / 3])


def test_correctness_by_hand():
    np.testing.assert_allclose(correctness(CORRECT), CORRECTNESS_EXPECTED)


def test_confidence_by_hand():
    np.testing.assert_allclose(confidence(GOLD_PROB), CONFIDENCE_EXPECTED, atol=1e-6)


def test_variability_is_population_std_by_hand():
    np.testing.assert_allclose(variability(GOLD_PROB), VARIABILITY_EXPECTED, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 4), (4,), (1, 2, 3, 4)])
def test_h_score_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError, match="runs, epochs, examples"):
        h_score(np.ones(shape, dtype=bool))


def test_success_rate_rejects_wrong_shape():
    with pytest.raises(ValueError):
        success_rate(np.ones((2, 4), dtype=bool))


def test_scores_table_by_hand():
    dyn = TrainingDynamics(example_id=np.array([10, 11, 11, 13]), feature=np.array([0, 0, 1, 0]),
                           label=np.array([0, 1, 1, 0]), seeds=(5, 6, 7), correct=CORRECT, gold_prob=GOLD_PROB)
    table = scores_table(dyn)
    assert list(table.columns) == ["example_id", "feature", "label", "h", "success_rate", "confidence",
                                   "variability", "correctness", "forgetting", "forgetting_deepcore", "el2n",
                                   "el2n_train_step", "aum", "dynamic_uncertainty", "dynamic_uncertainty_all_windows"]
    for column in ("el2n", "el2n_train_step", "aum"):          # no logits given: none of these
        assert table[column].isna().all()
    assert table["dynamic_uncertainty"].isna().all()           # E = 2: no window ends before the last epoch
    np.testing.assert_allclose(table["forgetting"], FORGETTING_EXPECTED)
    assert table["example_id"].tolist() == [10, 11, 11, 13]   # one row per training row (here: per window)
    assert table["feature"].tolist() == [0, 0, 1, 0]
    assert table["label"].tolist() == [0, 1, 1, 0]
    assert table["h"].tolist() == H_EXPECTED
    np.testing.assert_allclose(table["success_rate"], [1.0, 1 / 3, 1 / 3, 2 / 3])
    np.testing.assert_allclose(table["confidence"], CONFIDENCE_EXPECTED, atol=1e-6)
    np.testing.assert_allclose(table["variability"], VARIABILITY_EXPECTED, atol=1e-6)
    np.testing.assert_allclose(table["correctness"], CORRECTNESS_EXPECTED)


def test_h_histogram_includes_empty_values():
    hist = h_histogram(np.array(H_EXPECTED), runs=3)
    assert hist.index.tolist() == [0, 1, 2, 3]
    assert hist.tolist() == [0, 2, 1, 1]


def test_scores_table_per_example_combines_its_rows():
    # Rows 1 and 2 are two windows of example 11: it is right in (run, epoch) when both are.
    dyn = TrainingDynamics(example_id=np.array([10, 11, 11, 13]), feature=np.array([0, 0, 1, 0]),
                           label=np.array([0, 1, 0, 0]), seeds=(5, 6, 7), correct=CORRECT, gold_prob=GOLD_PROB)
    table = scores_table(dyn.by_example())
    assert table["example_id"].tolist() == [10, 11, 13] and table["feature"].tolist() == [0, 0, 0]
    assert table["label"].tolist() == [0, 1, 0]
    # example 11, by hand from CORRECT[:, :, 1] & CORRECT[:, :, 2]: run 0 [0, 0], run 1 [1, 1], run 2 [0, 0]
    assert table["h"].tolist() == [3, 1, 2]
    np.testing.assert_allclose(table["correctness"], [1.0, 2 / 6, 5 / 6])
    # its gold probability is the mean of the two windows' in each (run, epoch): 0.05 0.15 0.05 0.65 0.55 0.65
    pair = np.array([0.05, 0.15, 0.05, 0.65, 0.55, 0.65])
    np.testing.assert_allclose(table["confidence"], [0.5, pair.mean(), 0.8], atol=1e-6)
    np.testing.assert_allclose(table["variability"], [0.0, pair.std(), math.sqrt(0.05)], atol=1e-6)


# Forgetting by hand (E = 2: one transition per run; never right in a run counts E = 2 there):
#   example 0: right throughout -> 0; example 1: run 0 goes 1 -> 0 -> 1/3;
#   example 2: never right in runs 0 and 2 -> (2 + 0 + 2) / 3; example 3: run 1 goes 0 -> 1, no forgetting -> 0
FORGETTING_EXPECTED = [0.0, 1 / 3, 4 / 3, 0.0]


def test_forgetting_events_by_hand():
    np.testing.assert_allclose(forgetting_events(CORRECT), FORGETTING_EXPECTED)
    relearned = np.array([[[1], [0], [1], [0]]], dtype=bool)      # one run, 4 epochs: forgotten twice
    assert forgetting_events(relearned).tolist() == [2.0]


def test_forgetting_never_learned_conventions():
    # example 2 is never right in runs 0 and 2: E = 2 there by Toneva's rule, 0 by DeepCore's
    np.testing.assert_allclose(forgetting_events(CORRECT, "deepcore"), [0.0, 1 / 3, 0.0, 0.0])
    with np.errstate(invalid="ignore"):
        assert forgetting_events(CORRECT, "data_diet")[2] == np.inf
    np.testing.assert_allclose(forgetting_events(CORRECT, "cartography")[2], 2000 / 3)
    with pytest.raises(ValueError, match="never_learned"):
        forgetting_events(CORRECT, "zero")


def test_el2n_train_step_uses_the_first_epoch_only_and_averages_runs():
    logits = np.zeros((3, 2, 4, 2), dtype=np.float32)
    logits[[0, 2], 0, :, 0] = math.log(3)                   # runs 0 and 2: p = (0.75, 0.25); run 1: (0.5, 0.5)
    logits[:, 1] = [0.0, 9.0]                               # the second epoch must not count
    target = np.array([0, 1, 1, 0])
    near, far, half = math.sqrt(2 * 0.25 ** 2), math.sqrt(2 * 0.75 ** 2), math.sqrt(0.5)
    expected = [(2 * near + half) / 3, (2 * far + half) / 3, (2 * far + half) / 3, (2 * near + half) / 3]
    np.testing.assert_allclose(el2n_train_step(logits, target, 4), expected)
    assert np.isnan(el2n_train_step(None, None, 4)).all()


def test_el2n_scores_the_eval_pass_and_averages_runs():
    eval_logits = np.zeros((2, 1, 2))
    eval_logits[1, 0, 0] = math.log(3.0)                    # run 0: p = (0.5, 0.5); run 1: (0.75, 0.25)
    assert el2n(eval_logits, np.array([0]), 1)[0] == pytest.approx((math.sqrt(0.5) + math.sqrt(0.125)) / 2)
    assert np.isnan(el2n(None, np.array([0]), 1)).all() and np.isnan(el2n(np.zeros((2, 1, 0)), np.array([0]), 1)).all()


def test_aum_is_the_ccs_probability_margin_per_check():
    p = np.array([[[[0.5, 0.3, 0.2]], [[0.2, 0.7, 0.1]]]])     # [R=1, E=2, N=1, C=3], logits = log p
    assert aum(np.log(p), np.array([0]), 1)[0] == pytest.approx(((0.5 - 0.3) + (0.2 - 0.7)) / 2)
    assert aum(np.log(p), np.array([1]), 1)[0] == pytest.approx(((0.3 - 0.5) + (0.7 - 0.2)) / 2)
    z = np.random.default_rng(0).normal(size=(3, 4, 6, 2))       # two classes: 2 p_gold - 1
    p_gold = np.exp(z[..., 0]) / np.exp(z).sum(-1)
    np.testing.assert_allclose(aum(z, np.zeros(6, int), 6), (2 * p_gold - 1).mean(axis=(0, 1)))
    assert np.isnan(aum(None, None, 3)).all()


def test_dynamic_uncertainty_all_windows_by_hand():
    # E = 2: one window; per run the std of the two epochs' gold probabilities, then the mean over runs:
    # example 1: 0.1 in every run; example 2: 0, 0.5, 0; example 3: 0, 0, 0.3.
    np.testing.assert_allclose(dynamic_uncertainty_all_windows(GOLD_PROB), [0.0, 0.1, 0.5 / 3, 0.1], atol=1e-6)
    prob = np.array([[[0.0], [1.0], [1.0]]])                # E = 3, windows (0, 1) and (1, 2): std 0.5 and 0
    assert dynamic_uncertainty_all_windows(prob).tolist() == [pytest.approx(0.25)]


def test_dynamic_uncertainty_uses_the_windows_before_the_last_epoch():
    # E = 3, J = 2: only the window of epochs 1 and 2 (idx = 1 < E - 1); sample std x 10: 10 * 1 / sqrt(2)
    prob = np.array([[[0.0], [1.0], [1.0]]])
    assert dynamic_uncertainty(prob)[0] == pytest.approx(10 / math.sqrt(2))
    p = np.array([[[0.1], [0.5], [0.2], [0.9]]])            # E = 4, J = 2: windows ending at epochs 1 and 2
    assert dynamic_uncertainty(p, window=2)[0] == pytest.approx(10 * (0.4 + 0.3) / math.sqrt(2) / 2)
    assert dynamic_uncertainty(p)[0] == pytest.approx(10 * np.std([0.1, 0.5, 0.2], ddof=1))   # J = E - 1 = 3
    assert np.isnan(dynamic_uncertainty(GOLD_PROB)).all()     # E = 2: no window before the last epoch


def test_scores_table_keeps_el2n_from_recorded_logits():
    logits = np.zeros((3, 2, 4, 2), dtype=np.float32)
    dyn = TrainingDynamics(example_id=np.arange(4), feature=np.zeros(4, int), label=np.array([0, 1, 1, 0]),
                           seeds=(5, 6, 7), correct=CORRECT, gold_prob=GOLD_PROB, target=np.array([0, 1, 1, 0]),
                           logits=logits)
    table = scores_table(dyn)
    np.testing.assert_allclose(table["el2n_train_step"], [math.sqrt(0.5)] * 4)
    np.testing.assert_allclose(table["aum"], [0.0] * 4)       # p = (0.5, 0.5): no margin
    assert table["el2n"].isna().all()                         # no eval pass recorded
    passed = TrainingDynamics(**{**dyn.__dict__, "eval_logits": np.zeros((3, 4, 2), dtype=np.float32)})
    np.testing.assert_allclose(scores_table(passed)["el2n"], [math.sqrt(0.5)] * 4)
