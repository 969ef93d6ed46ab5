"""SQuAD v2 evaluation and QA post-processing against hand-computed values."""

import numpy as np
import pytest

from hscore import metrics
from hscore.engine import squad

# ---------------------------------------------------------------- normalization, EM, F1

def test_normalize_answer_lowers_and_drops_punctuation_articles_and_extra_spaces():
    assert metrics.normalize_answer("The  Cat,  sat!") == "cat sat"
    assert metrics.normalize_answer("An apple a day") == "apple day"
    assert metrics.normalize_answer("  Hello\tWORLD\n") == "hello world"
    # articles only as whole words; punctuation goes first, so "the-end" becomes "theend" and stays
    assert metrics.normalize_answer("theater anthem") == "theater anthem"
    assert metrics.normalize_answer("the-end") == "theend"
    assert metrics.normalize_answer("a.") == ""
    assert metrics.get_tokens("") == []
    assert metrics.get_tokens("The U.S. army") == ["us", "army"]


def test_exact_match_compares_normalized_strings():
    assert metrics.exact_match("The Eiffel Tower.", "eiffel tower") == 1
    assert metrics.exact_match("Eiffel Tower", "the Eiffel tower in Paris") == 0
    assert metrics.exact_match("", "the") == 1          # both normalize to ""


def test_f1_partial_overlap_by_hand():
    # [cat, sat] vs [cat, sat, down]: P = 1, R = 2/3 -> F1 = 2 * (2/3) / (5/3) = 0.8
    assert metrics.f1("the cat sat", "a cat sat down") == pytest.approx(0.8)
    # a repeated token matches only as often as the other side has it: [cat, cat] vs [cat]: P = 1/2, R = 1 -> 2/3
    assert metrics.f1("cat cat", "cat") == pytest.approx(2 / 3)
    assert metrics.f1("dog", "cat") == 0.0
    assert metrics.f1("Cat.", "cat") == 1.0


def test_f1_with_an_empty_side_is_one_only_when_both_are_empty():
    assert metrics.f1("", "") == 1.0
    assert metrics.f1("", "cat") == 0.0
    assert metrics.f1("cat", "") == 0.0
    assert metrics.f1("the", "") == 1.0                 # "the" has no tokens after normalization


def test_gold_answers_drop_texts_that_normalize_to_nothing():
    assert metrics.gold_answers(["Paris", "the", "!"]) == ["Paris"]
    assert metrics.gold_answers(["a", ""]) == [""]
    assert metrics.gold_answers([]) == [""]


# ---------------------------------------------------------------- the SQuAD v2 metric

def test_unanswerable_question_scores_only_an_empty_prediction():
    assert metrics.squad_v2_metric({"q": ""}, {"q": []}) == {
        "exact": 100.0, "f1": 100.0, "total": 1, "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 1}
    scores = metrics.squad_v2_metric({"q": "Paris"}, {"q": []})
    assert (scores["exact"], scores["f1"]) == (0.0, 0.0)
    assert "HasAns_total" not in scores


def test_score_is_the_best_over_gold_answers():
    # EM and F1 are 1 against the second gold only (F1 0 vs "dog", 0.8 vs "cat sat down"): the max is taken
    scores = metrics.squad_v2_metric({"q": "the cat sat"}, {"q": ["dog", "cat sat", "cat sat down"]})
    assert scores["exact"] == 100.0 and scores["f1"] == pytest.approx(100.0)
    # EM 0 everywhere; F1 is max(0.8 vs "cat sat down", 2/3 vs "cat": P 1/2, R 1)
    scores = metrics.squad_v2_metric({"q": "cat sat"}, {"q": ["cat sat down", "cat"]})
    assert scores["exact"] == 0.0 and scores["f1"] == pytest.approx(80.0)


def test_has_ans_and_no_ans_splits_and_totals():
    references = {"a1": ["Paris", "paris, France"], "a2": ["cat sat down"], "n1": [], "n2": []}
    predictions = {"a1": "Paris", "a2": "the cat sat", "n1": "", "n2": "Lyon"}
    scores = metrics.squad_v2_metric(predictions, references)
    # per question: EM 1, 0, 1, 0; F1 1, 0.8, 1, 0
    assert scores["total"] == 4 and scores["HasAns_total"] == 2 and scores["NoAns_total"] == 2
    assert scores["exact"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(100 * 2.8 / 4)
    assert scores["HasAns_exact"] == pytest.approx(50.0)
    assert scores["HasAns_f1"] == pytest.approx(90.0)
    assert scores["NoAns_exact"] == pytest.approx(50.0)
    assert scores["NoAns_f1"] == pytest.approx(50.0)


def test_answers_that_normalize_to_nothing_count_as_no_answer_but_stay_has_ans():
    # the official script: gold texts that normalize to "" are dropped (gold becomes [""]), but the
    # question is still HasAns because its answer list is non-empty
    scores = metrics.squad_v2_metric({"q": ""}, {"q": ["The"]})
    assert scores["exact"] == 100.0 and scores["HasAns_total"] == 1 and "NoAns_total" not in scores


def test_mismatched_ids_raise_and_name_them():
    with pytest.raises(ValueError, match="q2"):
        metrics.squad_v2_metric({"q1": "x"}, {"q1": ["x"], "q2": ["y"]})
    with pytest.raises(ValueError, match="extra"):
        metrics.squad_v2_metric({"q1": "x", "extra": "y"}, {"q1": ["x"]})
    with pytest.raises(ValueError):
        metrics.squad_v2_metric({}, {})


# ---------------------------------------------------------------- post-processing

CONTEXT = "Paris is the capital of France"
# word tokens of CONTEXT with their character offsets
WORDS = [(0, 5), (6, 8), (9, 12), (13, 20), (21, 23), (24, 30)]   # Paris is the capital of France


def window(context_tokens=WORDS, question_tokens=2):
    """Offsets of a window: CLS, question tokens, SEP, the context tokens, SEP (None outside the context)."""
    return [None] * (question_tokens + 2) + list(context_tokens) + [None]


def logits(length, high=None, null=0.0):
    """Start or end logits: -5 everywhere, ``null`` at position 0, and {position: value} from ``high``."""
    values = np.full(length, -5.0, dtype=np.float32)
    values[0] = null
    for position, value in (high or {}).items():
        values[position] = value
    return values


def run(starts, ends, offsets, contexts=(CONTEXT,), feature_example=None, **kwargs):
    """postprocess over the given windows (all of example 0 unless ``feature_example`` says otherwise)."""
    if feature_example is None:
        feature_example = np.zeros(len(starts), dtype=np.int64)
    return squad.postprocess(list(starts), list(ends), np.asarray(feature_example), list(offsets), list(contexts),
                             **kwargs)


def test_best_span_is_the_highest_start_plus_end_and_slices_characters():
    offsets = window()                                   # context tokens at positions 4..9
    # start at "capital" (7), end at "France" (9): "capital of France"
    start = logits(len(offsets), {7: 6.0, 4: 3.0})
    end = logits(len(offsets), {9: 5.0, 7: 2.0})
    assert run([start], [end], [offsets]) == ["capital of France"]
    # make the one-token span "Paris" the best instead
    start = logits(len(offsets), {7: 3.0, 4: 6.0})
    end = logits(len(offsets), {9: 2.0, 4: 5.0})
    assert run([start], [end], [offsets]) == ["Paris"]


def test_span_longer_than_max_answer_length_is_rejected():
    offsets = window()
    start = logits(len(offsets), {4: 9.0, 8: 1.0})        # "Paris" ... "of"
    end = logits(len(offsets), {9: 9.0})                  # ... "France"
    # "Paris is the capital of France" is 6 tokens; allowed at 6, not at 5, where "of France" wins
    assert run([start], [end], [offsets], max_answer_length=6) == [CONTEXT]
    assert run([start], [end], [offsets], max_answer_length=5) == ["of France"]


def test_end_before_start_is_rejected():
    offsets = window()
    start = logits(len(offsets), {9: 9.0, 5: 3.0})        # best start "France", then "is"
    end = logits(len(offsets), {4: 9.0, 6: 3.0})          # best end "Paris", then "the"
    # (9, 4) = 18, (9, 6) and (5, 4) = 12 all end before they start; the best valid pair is (5, 6) = 6
    # ("Paris" alone or "France" alone score 9 - 5 = 4): "is the"
    assert run([start], [end], [offsets]) == ["is the"]
    # with overlapping offsets (as when a tokenizer cuts one word into pieces), end < start would still give
    # a text: token 4 covers "Paris is the", token 5 "is"; (5, 4) = 18 would read "is the", (5, 5) = 10 wins
    offsets = window([(0, 12), (6, 8)] + WORDS[2:])
    start = logits(len(offsets), {5: 9.0}, null=-9.0)
    end = logits(len(offsets), {4: 9.0, 5: 1.0}, null=-9.0)
    assert run([start], [end], [offsets]) == ["is"]


def test_null_beating_the_best_span_gives_empty_answer_and_threshold_moves_the_line():
    offsets = window()
    start = logits(len(offsets), {4: 2.0}, null=3.0)
    end = logits(len(offsets), {4: 2.0}, null=3.0)        # null 6 vs span "Paris" 4: difference 2
    assert run([start], [end], [offsets]) == [""]
    assert run([start], [end], [offsets], null_score_diff_threshold=1.9) == [""]
    assert run([start], [end], [offsets], null_score_diff_threshold=2.0) == ["Paris"]   # not strictly greater
    assert run([start], [end], [offsets], null_score_diff_threshold=5.0) == ["Paris"]
    # a span beating the null is kept at threshold 0, dropped at a negative threshold below the margin
    start = logits(len(offsets), {4: 4.0}, null=1.0)
    end = logits(len(offsets), {4: 4.0}, null=1.0)        # null 2 vs span 8: difference -6
    assert run([start], [end], [offsets]) == ["Paris"]
    assert run([start], [end], [offsets], null_score_diff_threshold=-7.0) == [""]


def test_two_windows_pick_the_best_windows_span_and_the_smallest_null():
    # window 0 holds "Paris is the capital", window 1 "the capital of France" (overlap of two tokens)
    first, second = window(WORDS[:4]), window(WORDS[2:])
    start0 = logits(len(first), {4: 3.0}, null=1.0)       # "Paris": 3 + 3 = 6
    end0 = logits(len(first), {4: 3.0}, null=1.0)
    start1 = logits(len(second), {7: 4.0}, null=9.0)      # "France": 4 + 4 = 8
    end1 = logits(len(second), {7: 4.0}, null=9.0)
    assert run([start0, start1], [end0, end1], [first, second]) == ["France"]
    # the example's null score is the smaller one (2, from window 0), so a larger one elsewhere does not win
    assert run([start0, start1], [end0, end1], [first, second], null_score_diff_threshold=-5.0) == ["France"]
    assert run([start0, start1], [end0, end1], [first, second], null_score_diff_threshold=-6.5) == [""]
    # and the windows' order does not matter
    assert run([start1, start0], [end1, end0], [second, first]) == ["France"]


def test_tokens_without_offsets_are_never_chosen():
    offsets = window()
    # the highest logits sit on question tokens (1, 2) and the final SEP (10); "capital" is a weak runner-up
    start = logits(len(offsets), {1: 9.0, 10: 9.0, 7: 0.5}, null=-9.0)
    end = logits(len(offsets), {2: 9.0, 10: 9.0, 7: 0.5}, null=-9.0)
    assert run([start], [end], [offsets]) == ["capital"]
    # logits longer than the offsets list (here cut after "France", position 9): positions past its end
    # are skipped too
    long_start = np.concatenate([start, np.float32([20.0])])
    long_end = np.concatenate([end, np.float32([20.0])])
    assert run([long_start], [long_end], [offsets[:-1]]) == ["capital"]


def test_no_valid_span_or_no_window_gives_empty_answer():
    offsets = [None] * 5
    start, end = logits(5, {2: 9.0}, null=-9.0), logits(5, {3: 9.0}, null=-9.0)
    # example 1 has no window at all
    assert run([start], [end], [offsets], contexts=(CONTEXT, "unused"), feature_example=[0]) == ["", ""]


def test_n_best_limits_the_candidates():
    offsets = window()
    # starts ranked "capital" (7) > "is" (5); ends ranked "Paris" (4) > "the" (6)
    start = logits(len(offsets), {7: 5.0, 5: 4.0}, null=-9.0)
    end = logits(len(offsets), {4: 5.0, 6: 4.0}, null=-9.0)
    assert run([start], [end], [offsets], n_best=2) == ["is the"]
    assert run([start], [end], [offsets], n_best=1) == [""]     # only (7, 4), which ends before it starts


def test_examples_keep_the_order_of_contexts():
    other = "Rome is in Italy"
    other_words = [(0, 4), (5, 7), (8, 10), (11, 16)]
    w0, w1 = window(other_words), window()
    s0, e0 = logits(len(w0), {7: 5.0}, null=-9.0), logits(len(w0), {7: 5.0}, null=-9.0)   # "Italy"
    s1, e1 = logits(len(w1), {4: 5.0}, null=-9.0), logits(len(w1), {4: 5.0}, null=-9.0)   # "Paris"
    # window 0 belongs to example 1 (other), window 1 to example 0 (CONTEXT)
    answers = run([s0, s1], [e0, e1], [w0, w1], contexts=(CONTEXT, other), feature_example=[1, 0])
    assert answers == ["Paris", "Italy"]


def test_mismatched_inputs_raise():
    offsets = window()
    start = end = logits(len(offsets))
    with pytest.raises(ValueError):
        run([start], [end, end], [offsets])
    with pytest.raises(ValueError):
        run([start], [end], [offsets], feature_example=[3])
