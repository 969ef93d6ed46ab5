"""Label issues: which training rows look mislabelled, by cleanlab's confident learning and by the H-score.

cleanlab (Northcutt et al., 2021, "Confident Learning"; ``cleanlab.filter.find_label_issues``) needs
*out-of-sample* predicted probabilities: its documentation prescribes K-fold cross-validation (its
``estimate_cv_predicted_probabilities``, 5 folds by default), so that no row is predicted by a model that
trained on it. Here each fold is one more fine-tuning run of the pair's model with the phase-1 settings
(``cleanlab_folds``; ``crossval/fold-<k>``), and the folds are stratified and seeded
(``hscore.data.split.fold_of``), as
cleanlab's own ``StratifiedKFold``. ``issues`` calls cleanlab with its defaults (``filter_by=
'prune_by_noise_rate'``) and ``quality`` gives its ranking score (``get_label_quality_scores``, self-
confidence by default): together a flag set and a ranking, as the detection table compares them.

The free alternative costs no extra run: ``first_epoch_probs``, the softmax of the scoring runs' first-epoch
train-step logits, averaged over runs. In epoch 1 each row is predicted just before the step that trains on
it, by a model that has not yet seen it (the row order is fixed and each row appears once per epoch), so
those probabilities are out-of-sample for that row, though from a model that saw only part of the data.

cleanlab (and scikit-learn, which it needs) belong to the study's extra (``pip install hscore[study]``); the
functions here import it when called, with one line naming the extra when it is missing.
"""

from __future__ import annotations

import numpy as np

from ..errors import HScoreError
from .scores import softmax

CLEANLAB_SUBSET = "issues-removed"   # phase 2's method cleanlab: full data minus cleanlab's label issues


def likely_mislabelled(h: np.ndarray, aum: np.ndarray) -> np.ndarray:
    """Rows no run got right in every epoch (H = 0) whose runs, on average over every recorded check, put another
    class above their label (AUM < 0): the candidate list of likely mislabelled rows (``hscore.analysis.noise``
    measures its precision on planted noise)."""
    return (np.asarray(h) == 0) & (np.asarray(aum, dtype=np.float64) < 0)


def out_of_sample_probs(parts: list[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """The [n, C] probabilities of every row from the folds' ``(positions, probs)``; each row exactly once."""
    probs = None
    seen = np.zeros(n, dtype=np.int64)
    for positions, p in parts:
        probs = np.full((n, p.shape[1]), np.nan) if probs is None else probs
        probs[positions] = p
        seen[positions] += 1
    if probs is None or (seen != 1).any():
        raise ValueError(f"the folds must predict every one of the {n} rows once ({int((seen == 0).sum())} never, "
                         f"{int((seen > 1).sum())} more than once)")
    return probs


def first_epoch_probs(logits: np.ndarray) -> np.ndarray:
    """[N, C]: the softmax of the first epoch's train-step logits (``logits`` [R, E, N, C]), mean over runs."""
    return softmax(np.asarray(logits)[:, 0]).mean(axis=0)


def _cleanlab():
    try:
        import cleanlab.filter
        import cleanlab.rank
    except ImportError:
        raise HScoreError("cleanlab is not installed: it is part of the study's extra, pip install 'hscore[study]' "
                          "(or pip install cleanlab)") from None
    return cleanlab


def issues(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """cleanlab's label issues (a boolean mask over rows) with its defaults: ``find_label_issues(labels, probs)``."""
    return np.asarray(_cleanlab().filter.find_label_issues(np.asarray(labels, dtype=np.int64), probs), dtype=bool)


def quality(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """cleanlab's label quality score per row (``get_label_quality_scores``: self-confidence); lower = likelier
    mislabelled."""
    return np.asarray(_cleanlab().rank.get_label_quality_scores(np.asarray(labels, dtype=np.int64), probs))
