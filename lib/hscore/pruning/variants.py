"""How far the winning ticket moves when the scoring changes: one scoring against another.

A pair may be scored again at other phase-1 settings (``variants:`` in ``study.yaml``: another
learning rate, batch size, number of epochs, maximum length, the padded loop, other seeds, another
model). Each variant's H and ticket are compared with the pair's own at the same number of runs
(the first R' of the pair's runs, in seed order, so that a variant of 3 runs is not blamed for the
noise of having 3 runs instead of 6): the ticket's size, its Jaccard overlap with the pair's ticket,
the Spearman correlation of H, and how the ticket's classes shift. ``most_moved`` ranks the
variants by that overlap, lowest first: phase 2 trains the tickets that move most (``moved_tickets``).
No training here; no torch.
"""

from __future__ import annotations

import numpy as np

from .cheaper import h_from, jaccard, spearman, ticket
from .scores import h_score


def against(base_correct: np.ndarray, other_correct: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """One scoring (``other_correct`` [R', E', N]) against the pair's (``base_correct`` [R, E, N]) at
    R' runs: sizes, Jaccard of the tickets, Spearman of H and, with ``labels``, the largest change of a
    class's share of the ticket (percentage points)."""
    runs = other_correct.shape[0]
    if other_correct.shape[2] != base_correct.shape[2]:
        raise ValueError("the two scorings were recorded on different training rows")
    if runs > base_correct.shape[0]:
        raise ValueError(f"a variant of {runs} runs is compared with the pair's first {runs}, "
                         f"and the pair has {base_correct.shape[0]}")
    base_h = h_from(base_correct, runs, base_correct.shape[1])
    other_h = h_score(other_correct)
    base_t, other_t = ticket(base_h, runs), ticket(other_h, runs)
    out = {"runs": runs, "epochs": int(other_correct.shape[1]), "ticket size": len(other_t),
           "base ticket size": len(base_t), "jaccard": jaccard(other_t, base_t),
           "spearman of H": spearman(other_h, base_h)}
    if labels is not None:
        classes = np.unique(labels)
        share = lambda t: np.array([np.mean(labels[t] == c) if len(t) else 0.0 for c in classes])
        out["largest class shift (points)"] = float(100 * np.abs(share(other_t) - share(base_t)).max())
    return out


def most_moved(base_correct: np.ndarray, variants: dict[str, np.ndarray], k: int) -> list[tuple[str, float]]:
    """The ``k`` variants whose ticket overlaps the pair's (at their run count) least: (name, Jaccard),
    lowest first; ties in the order given."""
    overlaps = [(name, against(base_correct, correct)["jaccard"]) for name, correct in variants.items()]
    return sorted(overlaps, key=lambda item: item[1])[:k]
