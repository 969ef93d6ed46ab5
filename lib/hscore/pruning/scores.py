"""Per-example scores from training dynamics: pure functions over arrays of shape [R, E, N].

- H-score: ``H(i) = sum_r prod_e correct[r, e, i]``, the number of scoring runs in which example i
  was classified correctly in every epoch; an integer in 0..R.
- success rate: ``H / R``.
- Dataset Cartography (Swayamdipta et al., 2020), over all R x E recorded values of an example:
  confidence = mean gold-label probability, variability = its population standard deviation,
  correctness = fraction of checks in which it was classified correctly.

The scores the baselines rank by (``hscore.pruning.baselines``), from the same recorded dynamics,
each as its authors' reference code computes it (the repository, commit and lines are cited at each
function). The authors score one training run; where we have R runs we average the per-run score
over runs (our extension, the same for every score):

- forgetting events (Toneva et al., 2019; mtoneva/example_forgetting): per run, the
  correct-to-incorrect transitions between successive presentations (epochs). An example never
  right in a run is scored by a convention that differs between implementations
  (``NEVER_LEARNED``): E presentations in Toneva's original code and here (more than any learned
  example can reach, so it ranks first), 0 in DeepCore (it ties with the never-forgotten and ranks
  last), infinity in data_diet (ranks first, and one such run makes the mean infinite), 1000 in
  Dataset Cartography (ranks first). ``forgetting`` uses E, ``forgetting_deepcore`` DeepCore's 0.
- EL2N (Paul et al., 2021; mansheej/data_diet): ``|| softmax(f(x)) - onehot(y) ||_2`` of a
  checkpoint early in training scoring the whole training set in eval mode: one extra inference
  pass at the end of epoch ``el2n_epoch`` (``study.yaml``), recorded as ``eval_logits``; NaN where
  no pass was recorded. ``el2n_train_step`` is what we computed before: the train-step logits of
  epoch 1, so each row is scored by another model state (the one before its own step).
- AUM as the CCS code computes it (``accumulated_margin``, haizhongzheng/Coverage-centric-coreset-
  selection): per train-step check, the gold probability minus the largest other probability,
  accumulated over epochs; here the mean over the R x E checks (the authors' sum divided by E, which
  changes no stratum: CCS's strata are equal-width over the score's own range). Higher is easier.
  For two classes it is ``2 p_gold - 1``; NaN where no class logits were recorded (extractive QA).
- Dynamic Uncertainty (He et al., 2024; BAAI-DCAI/Dataset-Pruning ``ImageNet/get_coreset.py``):
  after each epoch ``idx`` with ``J - 1 <= idx < E - 1``, the sample standard deviation (x 10) of
  the gold probability over the window of the last J epochs; the mean over those windows (every
  full window but the one ending at the last epoch). The authors' J is 10 of 300 epochs; here
  ``J = min(10, E - 1)`` (E = 3: one window, epochs 1 and 2). NaN when E < 3 (no such window).
  ``dynamic_uncertainty_all_windows`` is what we computed before: every window of 2 epochs, the
  last included, population standard deviation.
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


NEVER_LEARNED = {"toneva": "E", "deepcore": 0.0, "data_diet": np.inf, "cartography": 1000.0}
"""What a run scores for an example it never got right, by implementation ("E": the number of epochs):
mtoneva/example_forgetting ``sort_examples_by_forgetting`` (npresentations), PatrickZH/DeepCore
``Forgetting.after_loss`` (no special case: ``last_acc`` starts at 0), mansheej/data_diet
``save_forget_scores`` (``np.inf``), allenai/cartography ``compute_forgetfulness`` (1000)."""


def forgetting_events(correct: np.ndarray, never_learned: str = "toneva") -> np.ndarray:
    """Mean over runs of the correct-to-incorrect transitions between successive epochs; a run in which
    the example was never right scores ``NEVER_LEARNED[never_learned]`` (Toneva's E by default)."""
    correct = np.asarray(correct, dtype=bool)
    if never_learned not in NEVER_LEARNED:
        raise ValueError(f"never_learned must be one of {sorted(NEVER_LEARNED)}, got {never_learned!r}")
    epochs = correct.shape[1]
    forgotten = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)   # [R, N]
    value = NEVER_LEARNED[never_learned]
    forgotten[~correct.any(axis=1)] = epochs if value == "E" else value
    return forgotten.mean(axis=0)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _l2_error(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``|| softmax(logits) - onehot(target) ||_2`` over the last axis (data_diet ``get_lord_error_fn``)."""
    onehot = np.eye(logits.shape[-1])[np.asarray(target)]
    return np.linalg.norm(softmax(logits) - onehot, axis=-1)


def el2n(eval_logits: np.ndarray | None, target: np.ndarray | None, n: int) -> np.ndarray:
    """EL2N as data_diet computes it (``scripts/get_run_score.py``, ``get_mean_score.py``): the error L2
    norm of one eval-mode pass over the whole training set per run (``eval_logits`` [R, N, C]), mean over
    runs; NaN for every example when no pass was recorded."""
    if eval_logits is None or target is None or np.shape(eval_logits)[-1] == 0:
        return np.full(n, np.nan)
    return _l2_error(np.asarray(eval_logits, dtype=np.float64), target[None]).mean(axis=0)


def el2n_train_step(logits: np.ndarray | None, target: np.ndarray | None, n: int) -> np.ndarray:
    """The error L2 norm of the first epoch's train-step logits (each row scored by the model state
    before its own step, dropout on), mean over runs; NaN for every example when there are no logits."""
    if logits is None or target is None:
        return np.full(n, np.nan)
    return _l2_error(np.asarray(logits[:, 0], dtype=np.float64), target[None]).mean(axis=0)


def aum(logits: np.ndarray | None, target: np.ndarray | None, n: int) -> np.ndarray:
    """CCS's accumulated margin per check, ``p_gold - max_{c != gold} p_c`` of the train-step logits,
    averaged over the R x E checks (``generate_importance_score.py`` ``record_training_dynamics``
    sums it over the epochs of one run); NaN for every example when there are no logits."""
    if logits is None or target is None:
        return np.full(n, np.nan)
    p = softmax(logits)                                                     # [R, E, N, C]
    rows = np.arange(p.shape[2])
    gold = p[:, :, rows, target].copy()
    p[:, :, rows, target] = -np.inf
    return (gold - p.max(axis=-1)).mean(axis=(0, 1))


def du_window(epochs: int) -> int:
    """Dynamic Uncertainty's window J: the authors' 10, or E - 1 when there are fewer epochs."""
    return min(10, epochs - 1)


def dynamic_uncertainty(gold_prob: np.ndarray, window: int | None = None, scale: float = 10.0) -> np.ndarray:
    """Dynamic Uncertainty as BAAI-DCAI/Dataset-Pruning ``ImageNet/get_coreset.py`` (lines 21-37) computes
    it: the mean over the windows ending at epochs ``J-1 .. E-2`` of the gold probability's sample
    standard deviation (``torch.std``) times ``scale``; mean over runs. ``window`` J defaults to
    ``du_window(E)``; NaN for every example when there is no such window (E < 3, or E <= J)."""
    prob = np.asarray(gold_prob, dtype=np.float64)
    epochs = prob.shape[1]
    window = du_window(epochs) if window is None else window
    ends = range(window - 1, epochs - 1)
    if window < 2 or not ends:
        return np.full(prob.shape[-1], np.nan)
    stds = [prob[:, end - window + 1:end + 1].std(axis=1, ddof=1) * scale for end in ends]   # [R, N] each
    return np.mean(stds, axis=0).mean(axis=0)


def dynamic_uncertainty_all_windows(gold_prob: np.ndarray, window: int = 2) -> np.ndarray:
    """Mean over runs of the mean over every window of ``window`` consecutive epochs (the last one
    included) of the gold probability's population standard deviation; with fewer epochs, one window
    of all of them. Not the authors' rule (``dynamic_uncertainty``)."""
    prob = np.asarray(gold_prob, dtype=np.float64)
    window = min(window, prob.shape[1])
    stds = [prob[:, e:e + window].std(axis=1) for e in range(prob.shape[1] - window + 1)]   # [R, N] each
    return np.mean(stds, axis=0).mean(axis=0)


def scores_table(dynamics: TrainingDynamics) -> pd.DataFrame:
    """One row per scoring unit (in training-split order): its example id, row index within the
    example (window, option; 0 when an example is one row), label and every score."""
    h = h_score(dynamics.correct)
    n = len(h)
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
        "forgetting_deepcore": forgetting_events(dynamics.correct, "deepcore"),
        "el2n": el2n(dynamics.eval_logits, dynamics.target, n),
        "el2n_train_step": el2n_train_step(dynamics.logits, dynamics.target, n),
        "aum": aum(dynamics.logits, dynamics.target, n),
        "dynamic_uncertainty": dynamic_uncertainty(dynamics.gold_prob),
        "dynamic_uncertainty_all_windows": dynamic_uncertainty_all_windows(dynamics.gold_prob),
    })


UNIT_COLUMNS = ("example_id", "feature", "label")   # what ``scores_table`` writes to name a scoring unit


def _score_columns() -> tuple[str, ...]:
    """The score columns ``scores_table`` writes (every column but ``UNIT_COLUMNS``), read off a table of
    one example, so that the list is never written twice."""
    one = TrainingDynamics(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64),
                           (0, 1), np.ones((2, 3, 1), dtype=bool), np.ones((2, 3, 1), dtype=np.float32))
    return tuple(c for c in scores_table(one).columns if c not in UNIT_COLUMNS)


SCORE_COLUMNS = _score_columns()
"""Every score ``scores_table`` writes: ``h``, ``success_rate``, the Cartography scores and each baseline's."""


def h_histogram(h: np.ndarray, runs: int) -> pd.Series:
    """Number of examples at each H value 0..R (zeros included)."""
    return pd.Series(np.bincount(np.asarray(h), minlength=runs + 1), index=pd.RangeIndex(runs + 1, name="H"),
                     name="examples")
