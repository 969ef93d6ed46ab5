"""Metrics against hand-computed values."""

import numpy as np
import pytest

from hscore import metrics


def test_accuracy_by_hand():
    # (the majority-class baseline is each kind's trivial(): tests/test_kinds.py)
    assert metrics.accuracy([0, 1, 1, 2], [0, 1, 2, 2]) == 75.0
    assert metrics.accuracy(np.array([1, 0, 1]), np.array([1, 0, 1])) == 100.0
    with pytest.raises(ValueError):
        metrics.accuracy([], [])
    assert set(metrics.METRICS) == {"accuracy", "macro_f1"}


def test_macro_f1_by_hand():
    # class 0: tp 1, fp 0, fn 1 -> F1 2/3; class 1: tp 2, fp 1, fn 0 -> F1 4/5
    predictions, labels = [0, 1, 1, 1], [0, 0, 1, 1]
    assert metrics.macro_f1(predictions, labels) == pytest.approx(100 * (2 / 3 + 4 / 5) / 2)


# --- SQuAD v1.1 against the official script ---------------------------------------------------
# REFERENCE ORACLE: a transcription of huggingface/evaluate @ a7dd338 metrics/squad/compute_score.py (the
# official evaluate-v1.1.py, lines 11-73), for the comparisons below only.
import collections  # noqa: E402
import re  # noqa: E402
import string  # noqa: E402


def oracle_v1_normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def oracle_v1_f1_score(prediction, ground_truth):
    prediction_tokens = oracle_v1_normalize_answer(prediction).split()
    ground_truth_tokens = oracle_v1_normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def oracle_v1_exact_match_score(prediction, ground_truth):
    return oracle_v1_normalize_answer(prediction) == oracle_v1_normalize_answer(ground_truth)


def oracle_v1_compute_score(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    continue
                ground_truths = list(map(lambda x: x["text"], qa["answers"]))
                prediction = predictions[qa["id"]]
                exact_match += max(oracle_v1_exact_match_score(prediction, gt) for gt in ground_truths)
                f1 += max(oracle_v1_f1_score(prediction, gt) for gt in ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}
# --- end of the oracle


def _v1_dataset(references):
    return [{"paragraphs": [{"qas": [{"id": q, "answers": [{"text": t} for t in texts]}
                                     for q, texts in references.items()]}]}]


V1_CASES = [  # prediction, references, v1.1 (EM, F1), v2 (EM, F1)
    ("", ["the", "Paris"], (1, 0.0), (0, 0.0)),       # v2 drops "the" (it normalises to ""); v1.1 keeps it
    ("The", ["the"], (1, 0.0), (1, 1.0)),             # both empty after normalising: v1.1 F1 0, v2 F1 1
    ("", ["."], (1, 0.0), (1, 1.0)),
    ("Paris", ["the", "Paris"], (1, 1.0), (1, 1.0)),
    ("in Paris, France", ["Paris"], (0, 0.5), (0, 0.5)),
    ("an apple", ["apple", "the apple tree"], (1, 1.0), (1, 1.0)),
]


@pytest.mark.parametrize("prediction,references,v1,v2", V1_CASES)
def test_squad_v1_differs_from_v2_where_a_text_normalises_to_nothing(prediction, references, v1, v2):
    assert (metrics.exact_match_v1(prediction, references), metrics.f1_v1(prediction, references)) == pytest.approx(v1)
    exact, f1 = metrics.per_question({"q": prediction}, {"q": references})
    assert (exact["q"], f1["q"]) == pytest.approx(v2)
    refs = {"q": references}
    assert metrics.squad_v1_metric({"q": prediction}, refs) == pytest.approx(
        oracle_v1_compute_score(_v1_dataset(refs), {"q": prediction}))


def test_squad_v1_matches_the_official_script_on_random_strings():
    rng = np.random.default_rng(0)
    vocab = ["the", "a", "An", "Paris", "paris", "France", ".", ",", "in", "1990", "Eiffel", "tower!", "", " "]
    references, predictions = {}, {}
    for q in range(300):
        def text():
            return " ".join(rng.choice(vocab, size=rng.integers(0, 5)))
        references[str(q)] = [text() for _ in range(rng.integers(1, 4))]
        if rng.random() < 0.9:
            predictions[str(q)] = text()
    assert len(predictions) < len(references)        # missing predictions score 0 and count in the total
    assert metrics.squad_v1_metric(predictions, references) == pytest.approx(
        oracle_v1_compute_score(_v1_dataset(references), predictions))
    full = {q: predictions.get(q, "") for q in references}
    exact, f1 = metrics.per_question_v1(full, references)
    official = oracle_v1_compute_score(_v1_dataset(references), full)
    assert 100 * np.mean(list(f1.values())) == pytest.approx(official["f1"])
    with pytest.raises(ValueError):
        metrics.f1_v1("Paris", [])                  # the official script's max() of no reference
