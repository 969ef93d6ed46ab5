"""Extractive-QA logits turned into answer texts (the metric is ``hscore.metrics``).

``postprocess``: Hugging Face's ``utils_qa.postprocess_qa_predictions`` with
  ``version_2_with_negative=True``: the best span over an example's windows, or "" when the null
  (CLS) score beats it by more than a threshold.
"""

from __future__ import annotations

import numpy as np


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
