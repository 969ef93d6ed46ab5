"""Cheaper scoring: H and the winning ticket from fewer scoring runs or fewer epochs.

The method's price is R full fine-tuning runs of E epochs. The recorded dynamics already hold
every cheaper setting: the first r runs (in seed order) and their first e epochs give
H_{r,e} = number of those r runs right in all of those e epochs, and a ticket of H_{r,e} in
1..r-1. ``cheaper_table`` compares every (r, e), r >= 2, with the full (R, E): Spearman rank
correlation of H, Jaccard overlap and size of the tickets, and the cost as a fraction of the
full scoring. ``cheapest`` picks the cheapest setting whose ticket overlaps the full one by at
least a threshold (``cheaper_ticket`` in ``study.yaml``); phase 2 trains that ticket as the
method ``cheaper``. No training here; no torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .scores import h_score


def h_from(correct: np.ndarray, runs: int, epochs: int) -> np.ndarray:
    """H from the first ``runs`` runs and their first ``epochs`` epochs of ``correct`` [R, E, N]."""
    if not (1 <= runs <= correct.shape[0] and 1 <= epochs <= correct.shape[1]):
        raise ValueError(f"runs must be in 1..{correct.shape[0]} and epochs in 1..{correct.shape[1]}")
    return h_score(correct[:runs, :epochs])


def ticket(h: np.ndarray, runs: int) -> np.ndarray:
    """Positions of the winning ticket of H from ``runs`` runs: 1 <= H <= runs - 1."""
    return np.flatnonzero((h >= 1) & (h <= runs - 1))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a & b| / |a | b| of two position sets (1 when both are empty)."""
    union = len(np.union1d(a, b))
    return 1.0 if union == 0 else len(np.intersect1d(a, b)) / union


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (ties get their mean rank); NaN when either is constant."""
    ra, rb = pd.Series(a, dtype=float).rank().to_numpy(), pd.Series(b, dtype=float).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def cheaper_table(correct: np.ndarray) -> pd.DataFrame:
    """Every (runs, epochs) with runs >= 2 against the full scoring, cheapest first."""
    R, E = correct.shape[:2]
    full_h = h_from(correct, R, E)
    full_ticket = ticket(full_h, R)
    rows = []
    for r in range(2, R + 1):
        for e in range(1, E + 1):
            h = h_from(correct, r, e)
            t = ticket(h, r)
            rows.append({"runs": r, "epochs": e, "cost % of full": 100 * r * e / (R * E),
                         "spearman with full H": spearman(h, full_h), "ticket size": len(t),
                         "ticket % of train": 100 * len(t) / correct.shape[2],
                         "jaccard with full ticket": jaccard(t, full_ticket)})
    return pd.DataFrame(rows).sort_values(["cost % of full", "runs"]).reset_index(drop=True)


def cheapest(table: pd.DataFrame, min_overlap: float) -> pd.Series:
    """The cheapest row of ``cheaper_table`` whose ticket overlaps the full one by ``min_overlap``
    at least (the full setting itself when no cheaper one does)."""
    good = table[table["jaccard with full ticket"] >= min_overlap - 1e-12]
    return good.iloc[0]
