"""Evaluation metrics, computed locally (no download, no network).

- classification, by name in ``METRICS``: each takes (predictions, labels) and returns a percentage;
- SQuAD (extractive QA): the official ``evaluate-v2.0.py`` script (what the ``squad_v2`` metric of
  ``evaluate`` runs), reimplemented offline: exact match and token F1 in percent, overall and split
  into answerable (HasAns) and unanswerable (NoAns) questions, with every prediction taken as given
  (no no-answer probability threshold);
- SQuAD v1.1 (extractive QA without unanswerable questions, e.g. the v1.1 dev set): the official
  ``evaluate-v1.1.py`` (what the ``squad`` metric of ``evaluate`` runs, ``metrics/squad/compute_score.py``),
  reimplemented offline. Its normalisation is v2's, but it keeps references that normalise to "",
  its F1 is 0 whenever no token is shared (also when both are empty: v2 gives 1), a question with
  no reference raises, and a missing prediction scores 0 in the denominator (v2 skips it). So the two
  differ whenever a prediction or a reference normalises to "": prediction "" against references
  ["the", "Paris"] is exact match 1 under v1.1 and 0 under v2.
"""

from __future__ import annotations

import collections
import re
import string

import numpy as np


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Percentage of predictions equal to the gold label."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("accuracy of an empty evaluation set")
    return float(100.0 * np.mean(predictions == labels))


def macro_f1(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Unweighted mean over classes of the F1 score, in percent."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    scores = []
    for c in np.unique(labels):
        tp = np.sum((predictions == c) & (labels == c))
        fp = np.sum((predictions == c) & (labels != c))
        fn = np.sum((predictions != c) & (labels == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(100.0 * np.mean(scores))


METRICS = {"accuracy": accuracy, "macro_f1": macro_f1}


# --- SQuAD ------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower case, drop punctuation, drop the articles a/an/the, collapse whitespace (official order)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def get_tokens(s: str) -> list[str]:
    """The normalized answer's whitespace tokens ([] for an empty string)."""
    if not s:
        return []
    return normalize_answer(s).split()


def exact_match(prediction: str, gold: str) -> int:
    """1 if the two normalized strings are equal, else 0."""
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 of the normalized strings; if either has no tokens, 1 when both have none, else 0."""
    pred_tokens, gold_tokens = get_tokens(prediction), get_tokens(gold)
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    same = sum((collections.Counter(pred_tokens) & collections.Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def gold_answers(references: list[str]) -> list[str]:
    """The reference texts whose normalized form is non-empty; [""] (unanswerable) when there are none."""
    return [text for text in references if normalize_answer(text)] or [""]


def _check_ids(predictions: dict, references: dict) -> None:
    """Raise ValueError naming a few ids found in only one of the two dicts."""
    missing = [qid for qid in references if qid not in predictions]
    extra = [qid for qid in predictions if qid not in references]
    problems = []
    if missing:
        problems.append(f"{len(missing)} question(s) without a prediction, e.g. {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} prediction(s) for unknown question(s), e.g. {extra[:5]}")
    if problems:
        raise ValueError("predictions and references disagree: " + "; ".join(problems))


def _percentages(exact: dict[str, int], f1s: dict[str, float], qids: list[str]) -> dict[str, float]:
    """Mean exact match and F1 over ``qids`` in percent, and their number (the official make_eval_dict)."""
    total = len(qids)
    return {"exact": 100.0 * sum(exact[q] for q in qids) / total,
            "f1": 100.0 * sum(f1s[q] for q in qids) / total,
            "total": total}


def per_question(predictions: dict[str, str], references: dict[str, list[str]]) -> tuple[dict, dict]:
    """Per question id: its exact match (0 or 1) and its F1 (0 to 1), each the best over its gold answers."""
    _check_ids(predictions, references)
    if not references:
        raise ValueError("SQuAD v2 scores of an empty evaluation set")
    exact, f1s = {}, {}
    for qid, texts in references.items():
        golds = gold_answers(list(texts))
        exact[qid] = max(exact_match(predictions[qid], gold) for gold in golds)
        f1s[qid] = max(f1(predictions[qid], gold) for gold in golds)
    return exact, f1s


def squad_v2_metric(predictions: dict[str, str], references: dict[str, list[str]]) -> dict[str, float]:
    """The official SQuAD v2 scores, in percent, of ``predictions`` (question id -> answer text).

    ``references``: question id -> its reference answer texts ([] for an unanswerable question). A question
    scores the best exact match and the best F1 over its gold answers (``gold_answers``). Keys: ``exact``,
    ``f1``, ``total``, and ``HasAns_*`` / ``NoAns_*`` for the questions with / without reference answers
    when there are any (as the official script, a question is HasAns when its reference list is non-empty);
    the totals are ints.
    """
    exact, f1s = per_question(predictions, references)
    result = _percentages(exact, f1s, list(references))
    for name, qids in (("HasAns", [q for q, texts in references.items() if len(texts) > 0]),
                       ("NoAns", [q for q, texts in references.items() if len(texts) == 0])):
        if qids:
            result.update({f"{name}_{key}": value for key, value in _percentages(exact, f1s, qids).items()})
    return result


# --- SQuAD v1.1 -------------------------------------------------------------------------------

def _v1_truths(references) -> list[str]:
    truths = [references] if isinstance(references, str) else list(references)
    if not truths:   # the official metric_max_over_ground_truths takes max() of an empty list
        raise ValueError("SQuAD v1.1 needs at least one reference answer per question")
    return truths


def exact_match_v1(prediction: str, references) -> int:
    """1 if the normalized prediction equals some normalized reference, every reference kept (one that
    normalizes to "", such as "the", matches an empty prediction)."""
    norm = normalize_answer(prediction)
    return int(max(norm == normalize_answer(t) for t in _v1_truths(references)))


def _f1_v1(prediction: str, reference: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(reference).split()
    same = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if same == 0:          # also when both are empty: v1.1 has no "both empty scores 1" rule
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1_v1(prediction: str, references) -> float:
    """The best token-overlap F1 over the references (0 whenever no token is shared)."""
    return max(_f1_v1(prediction, t) for t in _v1_truths(references))


def per_question_v1(predictions: dict[str, str], references: dict[str, list[str]]) -> tuple[dict, dict]:
    """Per question id: exact match (0 or 1) and F1 (0 to 1) under the v1.1 rules. Ids in only one of the
    two raise ValueError, as ``per_question`` does (the official script scores a missing prediction 0)."""
    _check_ids(predictions, references)
    if not references:
        raise ValueError("SQuAD v1.1 scores of an empty evaluation set")
    exact = {qid: exact_match_v1(predictions[qid], texts) for qid, texts in references.items()}
    f1s = {qid: f1_v1(predictions[qid], texts) for qid, texts in references.items()}
    return exact, f1s


def squad_v1_metric(predictions: dict[str, str], references: dict[str, list[str]]) -> dict[str, float]:
    """The official SQuAD v1.1 scores in percent: ``exact_match`` and ``f1`` over every question of
    ``references``; a question without a prediction scores 0 (the official script's rule)."""
    if not references:
        raise ValueError("SQuAD v1.1 scores of an empty evaluation set")
    exact = {q: exact_match_v1(predictions[q], t) if q in predictions else 0 for q, t in references.items()}
    f1s = {q: f1_v1(predictions[q], t) if q in predictions else 0.0 for q, t in references.items()}
    return {"exact_match": 100.0 * sum(exact.values()) / len(references),
            "f1": 100.0 * sum(f1s.values()) / len(references)}
