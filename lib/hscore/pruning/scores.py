"""Per-example scores from training dynamics: pure functions over arrays of shape [R, E, N].

- H-score: ``H(i) = sum_r prod_e correct[r, e, i]``, the number of scoring runs in which example i
  was classified correctly in every epoch; an integer in 0..R.
- success rate: ``H / R``.
- Dataset Cartography (Swayamdipta et al., 2020), over all R x E recorded values of an example:
  confidence = mean gold-label probability, variability = its population standard deviation,
  correctness = fraction of checks in which it was classified correctly.

The scores the baselines rank by (``hscore.pruning.baselines``), from the same recorded dynamics:

- forgetting events (Toneva et al., 2019): per run, the correct-to-incorrect transitions between
  successive presentations (epochs); an example never right in a run counts E there (more than
  any learned example can, as an unlearned example is "forgotten" for good); mean over runs.
- EL2N (Paul et al., 2021): ``|| softmax(logits) - onehot(target) ||_2`` in the first epoch,
  averaged over runs (NaN where no logits were recorded: extractive QA, per-question scoring).
- Dynamic Uncertainty (He et al., 2024): in every window of J consecutive epochs, the standard
  deviation of the gold-label probability; the mean over windows, then over runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dynamics import TrainingDynamics


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


def forgetting_events(correct: np.ndarray) -> np.ndarray:
    """Mean over runs of correct-to-incorrect transitions; E for a run in which the example was never right."""
    correct = np.asarray(correct, dtype=bool)
    epochs = correct.shape[1]
    forgotten = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)   # [R, N]
    forgotten[~correct.any(axis=1)] = epochs
    return forgotten.mean(axis=0)


def el2n(logits: np.ndarray | None, target: np.ndarray | None, n: int) -> np.ndarray:
    """First-epoch error L2 norm, mean over runs; NaN for every example when there are no logits."""
    if logits is None or target is None:
        return np.full(n, np.nan)
    first = np.asarray(logits[:, 0], dtype=np.float64)                       # [R, N, C]
    prob = np.exp(first - first.max(axis=-1, keepdims=True))
    prob /= prob.sum(axis=-1, keepdims=True)
    onehot = np.eye(first.shape[-1])[np.asarray(target)]                        # [N, C]
    return np.linalg.norm(prob - onehot[None], axis=-1).mean(axis=0)


def dynamic_uncertainty(gold_prob: np.ndarray, window: int = 2) -> np.ndarray:
    """Mean over runs of the mean over windows of ``window`` consecutive epochs of the gold
    probability's (population) standard deviation; with fewer epochs, one window of all of them."""
    prob = np.asarray(gold_prob, dtype=np.float64)
    window = min(window, prob.shape[1])
    stds = [prob[:, e:e + window].std(axis=1) for e in range(prob.shape[1] - window + 1)]   # [R, N] each
    return np.mean(stds, axis=0).mean(axis=0)


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
        "forgetting": forgetting_events(dynamics.correct),
        "el2n": el2n(dynamics.logits, dynamics.target, len(h)),
        "dynamic_uncertainty": dynamic_uncertainty(dynamics.gold_prob),
    })


def h_histogram(h: np.ndarray, runs: int) -> pd.Series:
    """Number of examples at each H value 0..R (zeros included)."""
    return pd.Series(np.bincount(np.asarray(h), minlength=runs + 1), index=pd.RangeIndex(runs + 1, name="H"),
                     name="examples")
