"""The baselines against their authors' reference code: hand-worked cases and small oracles.

Each score and selection of ``hscore.pruning`` is checked two ways: on small inputs whose answer is
worked out by hand (in the comments), and against a REFERENCE ORACLE, a minimal transcription of the
authors' own function (section below, marked), run on the same random input. The oracles live only
here; the library never imports them. Printing lines are dropped; where the authors' sort is
unstable, the oracle pins ``kind="stable"`` (said at each place).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hscore.errors import UnknownNameError
from hscore.pruning import baselines
from hscore.pruning.scores import aum, dynamic_uncertainty, el2n, forgetting_events
from hscore.pruning.subsets import (
    CCS_STRATA,
    _strata_budgets,
    ccs_hard_cut_ratio,
    class_budgets,
    coverage_subset,
    highest,
    highest_per_class,
)

# ============================================================================ REFERENCE ORACLES
# Transcriptions of the authors' code, for the comparisons below only.

# ---- haizhongzheng/Coverage-centric-coreset-selection @ b37f166: core/data/Coreset.py
# CoresetSelection.mislabel_mask (l.38-49), stratified_sampling (l.52-109); train.py l.135-141.
def oracle_ccs_mislabel_mask(data_score, mis_key, mis_num, mis_descending, coreset_key):
    mis_score = data_score[mis_key]
    mis_score_sorted_index = mis_score.argsort(descending=mis_descending)
    easy_index = mis_score_sorted_index[mis_num:]
    data_score[coreset_key] = data_score[coreset_key][easy_index]
    return data_score, easy_index


def oracle_ccs_strata(score, stratas=50):
    """stratified_sampling up to the budgets: the members of every stratum."""
    min_score = torch.min(score)
    max_score = torch.max(score) * 1.0001
    step = (max_score - min_score) / stratas
    sample_index = torch.arange(score.shape[0])
    return [sample_index[torch.logical_and(score >= min_score + k * step, score < min_score + (k + 1) * step)]
            for k in range(stratas)]


def oracle_ccs_bin_allocate(num, bins):
    sorted_index = torch.argsort(bins)
    sort_bins = bins[sorted_index]
    num_bin = bins.shape[0]
    rest_exp_num = num
    budgets = []
    for i in range(num_bin):
        rest_bins = num_bin - i
        avg = rest_exp_num // rest_bins
        cur_num = min(sort_bins[i].item(), avg)
        budgets.append(cur_num)
        rest_exp_num -= cur_num
    rst = torch.zeros((num_bin,)).type(torch.int)
    rst[sorted_index] = torch.tensor(budgets).type(torch.int)
    return rst


# generate_importance_score.py record_training_dynamics (l.91-108): the accumulated_margin part.
def oracle_ccs_accumulated_margin(td_log, targets, data_size):
    accumulated_margin = torch.zeros(data_size, dtype=torch.float64)
    for item in td_log:
        output = torch.exp(item["output"].type(torch.float64))
        index = item["idx"].type(torch.long)
        label = targets[index]
        batch_idx = range(output.shape[0])
        target_prob = output[batch_idx, label]
        output[batch_idx, label] = 0
        other_highest_prob = torch.max(output, dim=1)[0]
        accumulated_margin[index] += target_prob - other_highest_prob
    return accumulated_margin


# ---- PatrickZH/DeepCore @ 74ec709: deepcore/methods/forgetting.py Forgetting.after_loss (l.31-37) with
# before_run's zeros (l.61-62); select with balance=True (l.72-78), argsort pinned to kind="stable".
def oracle_deepcore_forgetting(presentations, n_train):
    forgetting_events = np.zeros(n_train)
    last_acc = np.zeros(n_train)
    for batch_inds, cur_acc in presentations:
        forgetting_events[batch_inds[(last_acc[batch_inds] - cur_acc) > 0.01]] += 1.
        last_acc[batch_inds] = cur_acc
    return forgetting_events


def oracle_deepcore_select_balanced(forgetting_events, targets, num_classes, fraction):
    train_indx = np.arange(len(targets))
    top_examples = np.array([], dtype=np.int64)
    for c in range(num_classes):
        c_indx = train_indx[targets == c]
        budget = round(fraction * len(c_indx))
        top_examples = np.append(top_examples,
                                 c_indx[np.argsort(forgetting_events[c_indx], kind="stable")[::-1][:budget]])
    return top_examples


# ---- mansheej/data_diet @ aee462e: data_diet/forgetting.py (l.5-23); data_diet/scores.py
# get_lord_error_fn (l.10-17, numpy instead of jax); scripts/get_mean_score.py (l.21-25).
def oracle_data_diet_forget_scores(presentations, num_train_examples):
    prev_accs = np.zeros(num_train_examples, dtype=np.int32)
    num_forgets = np.zeros(num_train_examples, dtype=float)
    never_correct = np.arange(num_train_examples, dtype=np.int32)
    for idxs, accs in presentations:
        num_forgets[idxs[prev_accs[idxs] > accs]] += 1
        prev_accs[idxs] = accs
        never_correct = np.setdiff1d(never_correct, idxs[accs.astype(bool)], True)
    forget_scores = num_forgets.copy()
    forget_scores[never_correct] = np.inf
    return forget_scores


def oracle_data_diet_l2_error(logits, Y):
    z = logits - logits.max(-1, keepdims=True)
    softmax = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    return np.linalg.norm(softmax - Y, ord=2, axis=-1)


# ---- allenai/cartography @ 3df3438: cartography/selection/train_dy_filtering.py compute_forgetfulness (l.35-56)
def oracle_cartography_forgetfulness(correctness_trend):
    if not any(correctness_trend):
        return 1000
    learnt = False
    times_forgotten = 0
    for is_correct in correctness_trend:
        if (not learnt and not is_correct) or (learnt and is_correct):
            continue
        elif learnt and not is_correct:
            learnt = False
            times_forgotten += 1
        elif not learnt and is_correct:
            learnt = True
    return times_forgotten


# ---- mtoneva/example_forgetting @ d51c1aa: order_examples_by_forgetting.py compute_forgetting_statistics
# (l.16-59) and sort_examples_by_forgetting (l.72-100), returning the per-example sums over runs.
def oracle_toneva_forgetting_sums(acc_per_run):
    unlearned_all, first_learned_all = [], []
    for presentation_acc in acc_per_run:                      # [E, N] per run
        unlearned, first_learned = {}, {}
        for example_id in range(presentation_acc.shape[1]):
            acc = np.array(presentation_acc[:, example_id], dtype=int)
            transitions = acc[1:] - acc[:-1]
            unlearned[example_id] = np.where(transitions == -1)[0] + 2 if len(np.where(transitions == -1)[0]) else []
            first_learned[example_id] = np.where(acc == 1)[0][0] if len(np.where(acc == 1)[0]) else np.nan
        unlearned_all.append(unlearned)
        first_learned_all.append(first_learned)
    npresentations = acc_per_run[0].shape[0]
    example_stats = []
    for example_id in unlearned_all[0].keys():
        example_stats.append(0)
        for i in range(len(unlearned_all)):
            if np.isnan(first_learned_all[i][example_id]):
                example_stats[-1] += npresentations
            else:
                example_stats[-1] += len(unlearned_all[i][example_id])
    return np.array(example_stats, dtype=float)


# ---- BAAI-DCAI/Dataset-Pruning @ 9f396a8: ImageNet/get_coreset.py (l.21-37); one file per epoch -> one row
def oracle_baai_dynamic_uncertainty(prob_per_epoch, window):
    nums = prob_per_epoch.shape[1]
    pred_prob_his = torch.zeros(nums, window).double()
    uncertainty_his = []
    for idx in range(prob_per_epoch.shape[0]):
        pred_prob = torch.from_numpy(prob_per_epoch[idx])
        indices = pred_prob.nonzero().squeeze().cpu()
        pred_prob_his[indices] = torch.cat((pred_prob_his[indices, 1:], torch.unsqueeze(pred_prob[indices], 1).cpu()),
                                           dim=1)
        if idx >= window - 1 and idx < prob_per_epoch.shape[0] - 1:
            uncertainty_his.append((torch.std(pred_prob_his, dim=1) * 10).detach().numpy())
    return np.mean(np.array(uncertainty_his), axis=0)
# ============================================================================ end of the oracles


def _scores(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"h": rng.integers(0, 4, n), "label": rng.integers(0, 3, n), "confidence": rng.random(n),
                         "variability": rng.random(n), "forgetting": rng.integers(0, 3, n).astype(float),
                         "forgetting_deepcore": rng.integers(0, 3, n).astype(float), "el2n": rng.random(n),
                         "el2n_train_step": rng.random(n), "aum": rng.uniform(-0.5, 0.9, n),
                         "dynamic_uncertainty": rng.random(n), "dynamic_uncertainty_all_windows": rng.random(n)})


@pytest.mark.parametrize("name", list(baselines.BASELINES))
@pytest.mark.parametrize("size", [0, 1, 13, 28])
def test_every_baseline_keeps_exactly_n_distinct_sorted_positions(name, size):
    chosen = baselines.choose(name, _scores(), size, seed=7)
    assert len(chosen) == size == len(set(chosen.tolist())) and chosen.tolist() == sorted(chosen.tolist())
    assert chosen.min(initial=0) >= 0 and chosen.max(initial=0) < 40


@pytest.mark.parametrize("name, column", [("ambiguous", "variability"), ("forgetting", "forgetting"),
                                          ("el2n", "el2n"), ("el2n_train_step", "el2n_train_step"),
                                          ("dynamic_uncertainty", "dynamic_uncertainty"),
                                          ("dynamic_uncertainty_all_windows", "dynamic_uncertainty_all_windows")])
def test_ranking_baselines_keep_the_highest_scores(name, column):
    scores = _scores()
    chosen = baselines.choose(name, scores, 10, seed=1)
    kept, dropped = scores[column].to_numpy()[chosen], np.delete(scores[column].to_numpy(), chosen)
    assert kept.min() >= dropped.max()


def test_seeded_baselines_depend_on_the_seed_only():
    scores = _scores()
    for name, baseline in baselines.BASELINES.items():
        a, b = baselines.choose(name, scores, 12, 3), baselines.choose(name, scores, 12, 3)
        assert a.tolist() == b.tolist()
        if baseline.per_seed and name in ("random", "ccs", "ccs_confidence", "forgetting", "forgetting_balanced"):
            assert any(a.tolist() != baselines.choose(name, scores, 12, s).tolist() for s in (4, 5, 6))
    assert not baselines.BASELINES["ambiguous"].per_seed
    ambiguous = [baselines.choose("ambiguous", scores, 12, seed).tolist() for seed in (3, 4)]
    assert ambiguous[0] == ambiguous[1]


def test_unknown_baseline_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="grand.*random, ambiguous, forgetting"):
        baselines.get_baseline("grand")


# ============================================================================ ties and classes

def test_ties_break_at_random_on_a_label_sorted_split():
    values = np.zeros(10)                             # 3 epochs: most forgetting counts are 0, all tied
    labels = np.array([0] * 5 + [1] * 5)              # a split sorted by label
    assert highest(values, 4).tolist() == [0, 1, 2, 3]          # no seed: training-split order, class 0 only
    picks = np.array([highest(values, 4, seed) for seed in range(400)])
    freq = np.bincount(picks.ravel(), minlength=10) / 400
    assert np.all((freq > 0.3) & (freq < 0.5))                  # each position about 4/10 of the time
    assert (labels[picks] == 1).sum(axis=1).mean() == pytest.approx(2.0, abs=0.15)   # 2 of 4 per class on average
    for seed in range(20):                                      # ties are broken among equals only
        got = highest(np.array([3.0, 1, 1, 1, 0]), 2, seed)
        assert got[0] == 0 and got[1] in (1, 2, 3)
    with pytest.raises(ValueError, match="missing"):
        highest(np.array([1.0, np.nan]), 1, 0)


def test_forgetting_baseline_on_label_sorted_dynamics_takes_both_classes():
    # 3 epochs, 2 runs, 40 examples sorted by label; every example learned and never forgotten but two
    correct = np.ones((2, 3, 40), dtype=bool)
    correct[:, 1, [5, 30]] = False                    # forgotten once in each run: the two top scores
    scores = pd.DataFrame({"forgetting": forgetting_events(correct), "label": np.repeat([0, 1], 20)})
    taken = [scores["label"].to_numpy()[baselines.choose("forgetting", scores, 12, seed)] for seed in range(50)]
    assert all({5, 30} <= set(baselines.choose("forgetting", scores, 12, s).tolist()) for s in range(5))
    assert 0.35 < np.mean([t.mean() for t in taken]) < 0.65      # the 10 tied picks: both classes alike
    balanced = baselines.choose("forgetting_balanced", scores.assign(forgetting_deepcore=scores["forgetting"]), 12, 0)
    assert np.bincount(scores["label"].to_numpy()[balanced]).tolist() == [6, 6]


def test_class_budgets_round_half_to_even_then_reach_the_size():
    assert class_budgets([5, 3], 4).tolist() == [2, 2]           # 2.5 -> 2, 1.5 -> 2
    assert class_budgets([3, 3, 2], 4).tolist() == [1, 2, 1]     # DeepCore's round gives 2, 2, 1 = 5: one less
    assert class_budgets([1, 1, 1, 7], 3).tolist() == [1, 0, 0, 2]
    rng = np.random.default_rng(0)
    for _ in range(300):
        sizes = rng.integers(0, 15, size=rng.integers(1, 7))
        size = int(rng.integers(0, sizes.sum() + 1))
        b = class_budgets(sizes, size)
        assert b.sum() == size and np.all((b >= 0) & (b <= sizes))


def test_highest_per_class_by_hand_and_against_deepcore():
    values = np.array([0, 5, 1, 2, 9, 9, 0, 3.0])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert highest_per_class(values, labels, 4, 0).tolist() == [1, 3, 4, 5]
    rng = np.random.default_rng(3)
    events = rng.random(200).round(3)               # few ties: then the tie order does not matter
    targets = rng.permutation(np.repeat(np.arange(4), 50))
    expected = np.sort(oracle_deepcore_select_balanced(events, targets, 4, 40 / 200))   # 10 per class
    assert highest_per_class(events, targets, 40, 0).tolist() == expected.tolist()
    uneven = rng.permutation(np.repeat([0, 1, 2], [75, 75, 50]))   # 37.5 -> 38, 38, 25: DeepCore keeps 101
    expected = oracle_deepcore_select_balanced(events, uneven, 3, 100 / 200)
    got = highest_per_class(events, uneven, 100, 0)
    assert len(expected) == 101 and len(got) == 100 and set(got.tolist()) < set(expected.tolist())


# ============================================================================ forgetting

def test_forgetting_matches_the_authors_oracles():
    rng = np.random.default_rng(5)
    runs, epochs, n = 3, 5, 40
    correct = rng.random((runs, epochs, n)) < np.linspace(0.05, 0.95, n)
    per_run_dd, per_run_dc = [], []
    for r in range(runs):
        presentations = []
        for e in range(epochs):
            idx = rng.permutation(n).astype(np.int32)
            presentations.append((idx, correct[r, e, idx].astype(np.int32)))
        per_run_dd.append(oracle_data_diet_forget_scores(presentations, n))
        per_run_dc.append(oracle_deepcore_forgetting(
            [(i.astype(np.int64), a.astype(np.float32)) for i, a in presentations], n))
        carto = [oracle_cartography_forgetfulness(list(correct[r, :, i])) for i in range(n)]
        assert forgetting_events(correct[r:r + 1], "cartography").tolist() == carto
    with np.errstate(invalid="ignore"):
        assert np.array_equal(forgetting_events(correct, "data_diet"), np.stack(per_run_dd).mean(0))
    assert np.array_equal(forgetting_events(correct, "deepcore"), np.stack(per_run_dc).mean(0))
    # Toneva's original sums E per never-learned run over runs; ours is the mean (same ranking)
    np.testing.assert_allclose(forgetting_events(correct) * runs, oracle_toneva_forgetting_sums(list(correct)))
    assert (~correct.any(axis=1)).any()             # the never-learned case is in the input


# ============================================================================ EL2N, AUM, dynamic uncertainty

def test_el2n_matches_data_diet():
    rng = np.random.default_rng(2)
    runs, n, c = 4, 20, 5
    z = rng.normal(size=(runs, n, c)) * 3
    y = rng.integers(0, c, n)
    expected = np.stack([oracle_data_diet_l2_error(z[r], np.eye(c)[y]) for r in range(runs)]).mean(0)
    np.testing.assert_allclose(el2n(z, y, n), expected)


def test_aum_matches_the_ccs_code_up_to_its_sum_over_epochs():
    rng = np.random.default_rng(1)
    n, c, epochs = 30, 4, 6
    logits = rng.normal(size=(epochs, n, c)) * 2
    target = rng.integers(0, c, n)
    log = []
    for e in range(epochs):                          # the CCS trainer's log: shuffled batches of log_softmax
        order = rng.permutation(n)
        for b in range(0, n, 7):
            idx = order[b:b + 7]
            log.append({"idx": torch.from_numpy(idx), "output": torch.log_softmax(torch.from_numpy(logits[e, idx]), 1)})
    expected = oracle_ccs_accumulated_margin(log, torch.from_numpy(target), n).numpy()
    np.testing.assert_allclose(aum(logits[None], target, n) * epochs, expected)


@pytest.mark.parametrize("epochs,window", [(12, 5), (11, 10), (4, 2), (3, 2)])
def test_dynamic_uncertainty_matches_baai(epochs, window):
    prob = np.random.default_rng(epochs).uniform(0.01, 1.0, size=(epochs, 25))
    np.testing.assert_allclose(dynamic_uncertainty(prob[None], window), oracle_baai_dynamic_uncertainty(prob, window))
    if window == min(10, epochs - 1):                # the default window is the authors' 10, or E - 1
        np.testing.assert_allclose(dynamic_uncertainty(prob[None]), oracle_baai_dynamic_uncertainty(prob, window))


# ============================================================================ CCS

def test_ccs_strata_span_the_pools_own_range_away_from_zero():
    # every score in [5, 6]: the strata must cover [5, 6], not [0, 6] (the old min(0, pool min) made
    # 41 of the 50 strata empty and put examples in other strata than the authors' code does)
    easiness = np.linspace(5.0, 6.0, 1000)          # 20 per stratum of width 0.02
    chosen = coverage_subset(easiness, 50, seed=0, hard_cut_ratio=0.0)
    step = (6.0 * 1.0001 - 5.0) / 50
    assert sorted(np.floor((easiness[chosen] - 5.0) / step).astype(int).tolist()) == list(range(50))  # one each
    # two strata: six scores near 10, two near 20: one from each end, whatever the seed
    scores = np.array([10.0, 10.2, 10.4, 10.6, 10.8, 11.0, 19.0, 20.0])
    for seed in range(20):
        picked = set(coverage_subset(scores, 2, seed, hard_cut_ratio=0.0, strata=2).tolist())
        assert len(picked & {6, 7}) == 1


def test_ccs_hard_cut_removes_the_lowest_easiness_then_covers_the_rest():
    aum_ = np.array([5, -3, 2, -2, 1, 4, 3, 0.5, 6, 7])
    assert coverage_subset(aum_, 8, 0, hard_cut_ratio=0.2).tolist() == [0, 2, 4, 5, 6, 7, 8, 9]   # -3, -2 out
    for seed in range(30):       # size 1 of 10: pruning rate 0.9 -> the README's beta 0.3: -3, -2, 0.5 out
        assert coverage_subset(aum_, 1, seed)[0] not in (1, 3, 7)
    with pytest.raises(ValueError, match="cannot keep 9"):
        coverage_subset(aum_, 9, 0, hard_cut_ratio=0.2)
    with pytest.raises(ValueError, match="no stratum"):        # the authors' hi = 1.0001 max <= max when max <= 0
        coverage_subset(np.array([-5.0, -4.0, -3.0, -1.0]), 4, 0, hard_cut_ratio=0.0, strata=3)


def test_ccs_hard_cut_ratio_follows_the_readme_points():
    assert [ccs_hard_cut_ratio(r) for r in (0.3, 0.79, 0.8, 0.85, 0.9, 0.97)] == [0.0, 0.0, 0.2, 0.2, 0.3, 0.3]


def test_ccs_budgets_water_fill_from_the_smallest_stratum():
    assert _strata_budgets(np.array([1, 2, 7]), 6).tolist() == [1, 2, 3]
    assert _strata_budgets(np.array([7, 2, 1]), 6).tolist() == [3, 2, 1]
    assert _strata_budgets(np.array([0, 5, 5]), 5).tolist() == [0, 2, 3]
    assert _strata_budgets(np.array([1, 2, 7]), 20).tolist() == [1, 2, 7]
    rng = np.random.default_rng(0)
    for _ in range(300):                              # no budget is ever left over: no leftover step needed
        counts = rng.integers(0, 12, size=rng.integers(1, 9))
        budget = int(rng.integers(0, counts.sum() + 1))
        ours = _strata_budgets(counts, budget)
        theirs = oracle_ccs_bin_allocate(budget, torch.from_numpy(counts)).numpy()
        assert ours.sum() == budget == theirs.sum()
        for c in np.unique(counts):                    # equal strata get the same shares, whichever gets the odd one
            assert sorted(ours[counts == c].tolist()) == sorted(theirs[counts == c].tolist())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ccs_matches_the_authors_cut_strata_and_budgets(seed):
    n, ratio, mis_ratio = 400, 0.1, 0.3
    easiness = np.random.default_rng(100 + seed).normal(1.0, 2.0, n)   # does not start at 0, has negatives
    size = int(ratio * n)
    chosen = coverage_subset(easiness, size, seed)                      # beta from the rate 0.9: 0.3
    data_score = {"accumulated_margin": torch.from_numpy(easiness.copy())}
    data_score, kept = oracle_ccs_mislabel_mask(data_score, "accumulated_margin", int(mis_ratio * n), False,
                                                "accumulated_margin")
    assert set(chosen.tolist()) <= set(kept.tolist())                   # the same examples survive the cut
    strata = oracle_ccs_strata(data_score["accumulated_margin"], CCS_STRATA)
    counts = torch.tensor([len(s) for s in strata])
    budgets = oracle_ccs_bin_allocate(size, counts).numpy()
    members = [set(kept[s].tolist()) for s in strata]
    ours = np.array([len(m & set(chosen.tolist())) for m in members])  # what we took from each of their strata
    assert ours.sum() == size
    for c in np.unique(counts.numpy()):
        assert sorted(ours[counts.numpy() == c].tolist()) == sorted(budgets[counts.numpy() == c].tolist())
