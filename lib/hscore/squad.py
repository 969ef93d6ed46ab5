"""SQuAD v2: the official evaluation, and extractive-QA logits turned into answer texts.

- ``squad_v2_metric``: the official ``evaluate-v2.0.py`` script (what the ``squad_v2`` metric of
  ``evaluate`` runs), reimplemented offline: exact match and token F1 in percent, overall and split into
  answerable (HasAns) and unanswerable (NoAns) questions, with every prediction taken as given (no
  no-answer probability threshold).
- ``postprocess``: Hugging Face's ``utils_qa.postprocess_qa_predictions`` with
  ``version_2_with_negative=True``: the best span over an example's windows, or "" when the null
  (CLS) score beats it by more than a threshold.
"""

from __future__ import annotations

import collections
import re
import string

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


# ---------------------------------------------------------------- the official evaluation

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


# ---------------------------------------------------------------- logits -> answer texts

def _top(logits: np.ndarray, n_best: int) -> np.ndarray:
    """Indices of the ``n_best`` largest logits, largest first (the same argsort call as HF's utils_qa)."""
    return np.argsort(logits)[-1:-n_best - 1:-1]


def _char_bounds(offsets: list, indices: np.ndarray, side: int) -> np.ndarray:
    """Character ``offsets[t][side]`` for each token index t; -1 where t is past the end or has no offsets."""
    bounds = np.full(len(indices), -1, dtype=np.int64)
    for k, t in enumerate(indices.tolist()):
        if t < len(offsets) and offsets[t] is not None and len(offsets[t]) >= 2:
            bounds[k] = offsets[t][side]
    return bounds


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, offsets: list, context_length: int,
              n_best: int = 20, max_answer_length: int = 30) -> tuple[int, int] | None:
    """(start token, end token) of one window's highest-scoring valid span, or None if it has none.

    Candidates pair the ``n_best`` top start and end indices; a pair is skipped when either token has no
    offsets, end < start, it is longer than ``max_answer_length`` tokens, or its text would be empty
    (HF's best non-null prediction is the first with a non-empty text). Ties go to the first pair in HF's
    order (start rank, then end rank).
    """
    starts, ends = _top(start_logits, n_best), _top(end_logits, n_best)
    char_start, char_end = _char_bounds(offsets, starts, 0), _char_bounds(offsets, ends, 1)
    valid = ((char_start[:, None] >= 0) & (char_end[None, :] >= 0)
             & (ends[None, :] >= starts[:, None])
             & (ends[None, :] - starts[:, None] + 1 <= max_answer_length)
             & (np.minimum(char_end[None, :], context_length) > char_start[:, None]))
    if not valid.any():
        return None
    scores = np.where(valid, start_logits[starts][:, None] + end_logits[ends][None, :], -np.inf)
    i, j = np.unravel_index(np.argmax(scores), scores.shape)
    return int(starts[i]), int(ends[j])


def postprocess(start_logits: list[np.ndarray], end_logits: list[np.ndarray], feature_example: np.ndarray,
                offsets: list[list[tuple[int, int] | None]], contexts: list[str], n_best: int = 20,
                max_answer_length: int = 30, null_score_diff_threshold: float = 0.0) -> list[str]:
    """One answer text per context, from the start/end logits of the windows (features) cut from them.

    Window f belongs to example ``feature_example[f]``; ``start_logits[f]`` / ``end_logits[f]`` are its
    per-token logits (position 0 is the null/CLS token) and ``offsets[f][t]`` the (char_start, char_end) of
    a context token in its example's context, None for any other token. Per example, the null score is the
    smallest ``start[0] + end[0]`` over its windows and the best span the highest ``start[s] + end[e]``
    over them (``best_span``); the answer is "" when there is no span or ``null - start[s] - end[e]``
    exceeds ``null_score_diff_threshold``, else ``context[offsets[s][0]:offsets[e][1]]``. An example with
    no windows gets "".
    """
    feature_example = np.asarray(feature_example, dtype=np.int64).reshape(-1)
    n = len(feature_example)
    if not (len(start_logits) == len(end_logits) == len(offsets) == n):
        raise ValueError(f"windows disagree: {len(start_logits)} start_logits, {len(end_logits)} end_logits, "
                         f"{len(offsets)} offsets, {n} feature_example entries")
    if n and (feature_example.min() < 0 or feature_example.max() >= len(contexts)):
        raise ValueError(f"feature_example points outside the {len(contexts)} contexts")
    null = [None] * len(contexts)     # per example: smallest null score so far
    best = [None] * len(contexts)     # per example: (score, start logit, end logit, char start, char end)
    for f in range(n):
        e = int(feature_example[f])
        start, end = np.asarray(start_logits[f]), np.asarray(end_logits[f])
        null_score = start[0] + end[0]
        if null[e] is None or null[e] > null_score:
            null[e] = null_score
        span = best_span(start, end, offsets[f], len(contexts[e]), n_best, max_answer_length)
        if span is None:
            continue
        s, t = span
        score = start[s] + end[t]
        if best[e] is None or score > best[e][0]:
            best[e] = (score, start[s], end[t], offsets[f][s][0], offsets[f][t][1])
    answers = []
    for e, context in enumerate(contexts):
        if best[e] is None or null[e] - best[e][1] - best[e][2] > null_score_diff_threshold:
            answers.append("")
        else:
            answers.append(context[best[e][3]:best[e][4]])
    return answers
