"""Per-example scores from training dynamics: pure functions over arrays of shape [R, E, N].

- H-score: ``H(i) = sum_r prod_e correct[r, e, i]``, the number of scoring runs in which example i
  was classified correctly in every epoch; an integer in 0..R.
- success rate: ``H / R``.
- Dataset Cartography (Swayamdipta et al., 2020), over all R x E recorded values of an example:
  confidence = mean gold-label probability, variability = its population standard deviation,
  correctness = fraction of checks in which it was classified correctly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .dynamics import TrainingDynamics


def h_score(correct: np.ndarray) -> np.ndarray:
    """H(i): runs in which example i was right in every epoch. ``correct``: bool [R, E, N]."""
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 3:
        raise ValueError(f"correct must have shape [runs, epochs, examples], got {correct.shape}")
    return correct.all(axis=1).sum(axis=0).astype(np.int64)


def success_rate(correct: np.ndarray) -> np.ndarray:
    """H / R, in [0, 1]."""
    return h_score(correct) / np.asarray(correct).shape[0]


def confidence(gold_prob: np.ndarray) -> np.ndarray:
    """Mean gold-label probability over runs and epochs. ``gold_prob``: [R, E, N]."""
    return np.asarray(gold_prob, dtype=np.float64).reshape(-1, np.shape(gold_prob)[-1]).mean(axis=0)


def variability(gold_prob: np.ndarray) -> np.ndarray:
    """Population standard deviation of the gold-label probability over runs and epochs."""
    return np.asarray(gold_prob, dtype=np.float64).reshape(-1, np.shape(gold_prob)[-1]).std(axis=0)


def correctness(correct: np.ndarray) -> np.ndarray:
    """Fraction of the R x E checks in which the example was classified correctly."""
    return np.asarray(correct, dtype=np.float64).reshape(-1, np.shape(correct)[-1]).mean(axis=0)


def scores_table(dynamics: TrainingDynamics) -> pd.DataFrame:
    """One row per scoring unit (in training-split order): its example id, row index within the
    example (window, option; 0 when an example is one row), label and every score."""
    h = h_score(dynamics.correct)
    return pd.DataFrame({
        "example_id": dynamics.example_id,
        "feature": dynamics.feature,
        "label": dynamics.label,
        "h": h,
        "success_rate": h / dynamics.runs,
        "confidence": confidence(dynamics.gold_prob),
        "variability": variability(dynamics.gold_prob),
        "correctness": correctness(dynamics.correct),
    })


def h_histogram(h: np.ndarray, runs: int) -> pd.Series:
    """Number of examples at each H value 0..R (zeros included)."""
    return pd.Series(np.bincount(np.asarray(h), minlength=runs + 1), index=pd.RangeIndex(runs + 1, name="H"),
                     name="examples")
