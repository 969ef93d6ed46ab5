"""What is pruned: example texts at every H level, where they sit on the data map, and whether the
examples no run learned (H = 0) are the ones annotators disagree on.

Dataset Cartography found mislabelled examples among the hard-to-learn ones (low confidence, low
variability); whether our H = 0 examples are such is a question for the data, not a claim:
``h_levels`` shows how many sit in that corner and what they are, and where a task carries several
reference answers per example (the SQuAD dev set: 2 to 6 per question), ``agreement_by_h``
measures the annotators' agreement at every H. No training here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine.kinds import TaskKind
from ..metrics import f1

HARD_TO_LEARN = 0.2  # confidence below this (mean gold probability): consistently predicted wrong


def h_levels(scores: pd.DataFrame, runs: int) -> pd.DataFrame:
    """Per H value: examples, % of the training set, mean confidence and variability, and the share
    of hard-to-learn examples (confidence < ``HARD_TO_LEARN``: the runs consistently predicted
    another answer, where mislabelled examples would sit)."""
    g = scores.groupby("h")
    out = pd.DataFrame({"examples": g.size(), "confidence": g["confidence"].mean(),
                        "variability": g["variability"].mean(),
                        "hard to learn %": 100 * g["confidence"].apply(lambda c: np.mean(c < HARD_TO_LEARN))})
    out = out.reindex(range(runs + 1)).fillna({"examples": 0})
    out.insert(1, "% of train", 100 * out["examples"] / len(scores))
    out.index.name = "H"
    return out


def examples_by_h(scores: pd.DataFrame, split, label_names, kind: TaskKind, per_h: int = 3, seed: int = 0,
                  width: int = 160) -> pd.DataFrame:
    """``per_h`` examples drawn at random (seeded) at every H value, with label, confidence and
    text (as the task's ``kind`` shows an example); ``split`` is the training split the scores'
    ``example_id`` index (one row per example)."""
    position = {int(i): p for p, i in enumerate(split.ids)}
    rng = np.random.default_rng(seed)
    firsts = scores.drop_duplicates("example_id")
    rows = []
    for h, part in firsts.groupby("h"):
        for _, r in part.iloc[rng.permutation(len(part))[:per_h]].iterrows():
            p = position[int(r["example_id"])]
            rows.append({"H": int(h), "label": label_names[int(split.labels[p])], "confidence": r["confidence"],
                         "text": kind.example_text(split, p, width)})
    return pd.DataFrame(rows)


def annotator_agreement(split) -> np.ndarray | None:
    """Per example with several reference answers: the mean pairwise F1 between its references
    (1 = every annotator gave the same answer); NaN for fewer than two. None for a task without
    several references per example."""
    if "answers" not in split.fields:
        return None
    out = np.full(len(split), np.nan)
    for i, answers in enumerate(split["answers"]):
        texts = list(answers["text"])
        if len(texts) >= 2:
            pairs = [(a, b) for j, a in enumerate(texts) for b in texts[j + 1:]]
            out[i] = np.mean([f1(a, b) for a, b in pairs])
    return out if np.isfinite(out).any() else None


def agreement_by_h(scores: pd.DataFrame, split) -> pd.DataFrame:
    """Mean annotator agreement (``annotator_agreement``) of the examples at every H value, per
    scoring unit (a QA window counts its question's agreement); empty when there is nothing to measure."""
    agreement = annotator_agreement(split)
    if agreement is None:
        return pd.DataFrame()
    by_id = pd.Series(agreement, index=split.ids)
    table = scores.assign(agreement=by_id.reindex(scores["example_id"]).to_numpy()).dropna(subset=["agreement"])
    out = table.groupby("h")["agreement"].agg(["count", "mean"]).rename(
        columns={"count": "rows with 2+ references", "mean": "mean pairwise F1 of the references"})
    out.index.name = "H"
    return out
