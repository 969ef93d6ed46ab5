"""What H = 0 holds: planted label noise, found by the scores the package computes and by cleanlab.

For a pair whose training labels were flipped (``label_noise``, ``hscore.data.noise``) the flipped rows are
known, so every score is a detector of them and can be measured (``detection``):

- **H = 0**, what the winning ticket drops as "too hard or noisy" (its flags), ranked by H (lower first);
- the scores the package computes from the same scoring runs, each ranked as its authors read it for noise:
  cartography's **confidence** (lower first), **forgetting** events (more first), **AUM** (lower first:
  Pleiss et al. flag mislabelled data by a low margin), **EL2N** of the eval pass and of the train step
  (higher first); each flags as many rows as H = 0 does (its top k, ties in training order), so its
  precision and recall are comparable with H = 0's at the same budget;
- **cleanlab** (``cleanlab.filter.find_label_issues`` with its defaults, ranked by its label quality
  score) on K-fold cross-validated probabilities, as its documentation prescribes (K more runs), and on the
  scoring runs' first-epoch train-step probabilities (no run more; ``hscore.pruning.label_issues``).

Each detector's precision (flipped among flagged), recall (flagged among flipped) and AUROC (the chance that
a flipped row is ranked above a clean one, ties counted half) carry 95% percentile-bootstrap intervals over
the training rows (``DRAWS`` resamples of the rows, the detectors' flags and scores held fixed: what another
sample of rows would show, not what other scoring runs would). ``pr_curve`` gives each ranking's precision
and recall at every cut (tied rows cut together).

Phase 2 (``effects``): the ticket, random subsets of its size and full data minus cleanlab's issues, each
against full (noisy) data, with ``hscore.analysis.stats.compare``'s paired bootstrap over seeds and
validation examples; ``growth`` asks whether the ticket's gain over full data grows with the noise rate,
by the same bootstrap of the difference of two gains (the validation set is the same clean set at every
rate). This module imports no torch; cleanlab only where it is called.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import get_task, pair_splits
from ..data.noise import flipped
from ..pruning.label_issues import CLEANLAB_SUBSET, first_epoch_probs, issues, likely_mislabelled, quality
from ..study.selection import load_heldout
from .stats import LEVEL, compare, example_points

DRAWS = 1000
# detector -> (scores-table column, higher means likelier flipped); H = 0 and cleanlab flag rows themselves
SCORE_DETECTORS = {"confidence": ("confidence", False), "forgetting": ("forgetting", True), "AUM": ("aum", False),
                   "EL2N": ("el2n", True), "EL2N (train step)": ("el2n_train_step", True)}
H_ZERO = "H = 0 (ranked by H)"
CLEANLAB_CV = "cleanlab, cross-validated"
CLEANLAB_FREE = "cleanlab, first-epoch probabilities"
LIKELY_MISLABELLED = "H = 0 and AUM < 0"   # the candidate listing: never right, and another class above its label


def noise_rate(cfg) -> float:
    """The share of training labels the pair's task flips (0 when it plants none)."""
    noise = get_task(cfg.task, cfg.declared).label_noise
    return 0.0 if noise is None else noise.rate


def is_noise_pair(cfg) -> bool:
    """Whether the pair asks the noise question: it plants label noise or runs cleanlab beside the H-score."""
    return bool(cfg.cleanlab_folds) or noise_rate(cfg) > 0


def flipped_rows(cfg, scores: pd.DataFrame) -> np.ndarray:
    """Per row of the scores table, whether its label was flipped (all False without planted noise)."""
    train = pair_splits(get_task(cfg.task, cfg.declared), cfg)["train"]
    if not np.array_equal(np.asarray(train.ids), scores["example_id"].to_numpy()):
        raise ValueError(f"{cfg.pair}: the scores table's rows are not the training split's (score_unit: example?)")
    mask = flipped(train)
    return np.zeros(len(scores), dtype=bool) if mask is None else mask


def top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Flags of the ``k`` highest scores (ties in training order; NaN never flagged)."""
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
    flags = np.zeros(len(score), dtype=bool)
    flags[order[:k]] = True
    return flags & ~np.isnan(score)


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """The chance that a positive row scores above a negative one (ties count half; Mann-Whitney U)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return np.nan
    ranks = pd.Series(np.asarray(score, dtype=np.float64)).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_curve(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) of flagging every row scoring at least t, for each distinct score t from the
    highest down (tied rows enter together)."""
    score, positive = np.asarray(score, dtype=np.float64), np.asarray(positive, dtype=bool)
    order = np.argsort(-score, kind="stable")
    s, p = score[order], positive[order]
    hits = np.cumsum(p)
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]   # the last row of each tie block
    return hits[last] / max(p.sum(), 1), hits[last] / (last + 1)


def _interval(values: np.ndarray) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if not len(values):
        return np.nan, np.nan
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def detectors(pair) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each detector's (flags, score: higher = likelier flipped) over the pair's training rows (``PairResults``)."""
    scores = pair.scores()
    labels, h = scores["label"].to_numpy(), scores["h"].to_numpy()
    zero = h == 0
    out = {H_ZERO: (zero, -h.astype(np.float64))}
    for name, (column, higher) in SCORE_DETECTORS.items():
        value = scores[column].to_numpy(np.float64)
        if np.isnan(value).all():   # not recorded (EL2N's eval pass without el2n_epoch)
            continue
        value = value if higher else -value
        out[name] = (top_k(value, int(zero.sum())), value)
    out[LIKELY_MISLABELLED] = (likely_mislabelled(h, scores["aum"].to_numpy()), -scores["aum"].to_numpy(np.float64))
    cfg = pair.cfg
    if cfg.cleanlab_folds:
        heldout = load_heldout(cfg)
        kept = pair.subsets().positions("cleanlab", CLEANLAB_SUBSET, 0)
        flags = np.ones(len(labels), dtype=bool)
        flags[kept] = False
        out[CLEANLAB_CV] = (flags, -quality(labels, heldout))
    dynamics = pair.dynamics()
    if dynamics.logits is not None:
        probs = first_epoch_probs(dynamics.logits)
        out[CLEANLAB_FREE] = (issues(labels, probs), -quality(labels, probs))
    return out


def detection(found: dict[str, tuple[np.ndarray, np.ndarray]], noisy: np.ndarray, draws: int = DRAWS,
              seed: int = 0) -> pd.DataFrame:
    """One row per detector of ``found`` (``detectors``): rows flagged, precision and recall of the flipped rows
    ``noisy`` (%), AUROC, each with its 95% bootstrap interval over the training rows; empty when no label was
    flipped."""
    if not noisy.any():
        return pd.DataFrame()
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, len(noisy), size=(draws, len(noisy)))
    rows = []
    for name, (flags, score) in found.items():
        boot = np.array([_metrics(flags[s], score[s], noisy[s]) for s in samples])
        observed = _metrics(flags, score, noisy)
        row = {"detector": name, "flagged": int(flags.sum()), "flipped": int(noisy.sum())}
        for i, what in enumerate(("precision", "recall", "AUROC")):
            low, high = _interval(boot[:, i])
            row |= {what: observed[i], f"{what} low": low, f"{what} high": high}
        rows.append(row)
    return pd.DataFrame(rows)


def _metrics(flags: np.ndarray, score: np.ndarray, noisy: np.ndarray) -> tuple[float, float, float]:
    hit = int((flags & noisy).sum())
    precision = 100 * hit / flags.sum() if flags.any() else np.nan
    recall = 100 * hit / noisy.sum() if noisy.any() else np.nan
    return precision, recall, auroc(score, noisy)


def flipped_by_h(h: np.ndarray, noisy: np.ndarray, runs: int) -> dict:
    """Where the flipped rows ``noisy`` are by their H of ``runs`` runs: how many have H = 0 (dropped as hard),
    1 <= H <= R-1 (kept in the winning ticket) and H = R (dropped as easy: the runs learned the flipped label from
    the first epoch)."""
    return {"flipped": int(noisy.sum()), "H = 0": int((noisy & (h == 0)).sum()),
            "ticket": int((noisy & (h > 0) & (h < runs)).sum()), "H = R": int((noisy & (h == runs)).sum())}


def false_flags(found: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """Without planted noise: how many rows each detector of ``found`` flags (all of them clean labels, as far as
    anyone knows: the data's own noise is unknown)."""
    return pd.DataFrame([{"detector": name, "flagged": int(flags.sum())} for name, (flags, _) in found.items()])


def cost(pair) -> dict:
    """What each source of scores cost in runs and seconds: the scoring runs (which the ticket needs anyway,
    and which every score above but cleanlab's cross-validation reads) and cleanlab's folds."""
    scoring = pair.phase1_runs().drop_duplicates("run")
    folds = pair.fold_runs()
    return {"scoring runs": len(scoring), "scoring seconds": float(scoring["wall_seconds"].sum()),
            "fold runs": len(folds), "fold seconds": float(folds["wall_seconds"].sum())}


# --- phase 2 -----------------------------------------------------------------------------------------------

ARMS = ("hscore", "random", "cleanlab")   # each against full (noisy) data


def _arm(preds: pd.DataFrame, method: str, split: str) -> pd.DataFrame:
    return preds[(preds["method"] == method) & (preds["split"] == split)]


def effects(pair, metric: str = "accuracy") -> pd.DataFrame:
    """Per arm (the ticket, random subsets of its size, full data minus cleanlab's issues): its size and its
    score against full data at the same seeds, the difference with its 95% paired-bootstrap interval."""
    preds = pair.predictions()
    split = get_task(pair.cfg.task, pair.cfg.declared).eval_splits[0]
    full = _arm(preds, "full", split)
    sizes = pair.phase2().drop_duplicates(["method"]).set_index("method")["size"]
    rows = []
    for method in ARMS:
        mine = _arm(preds, method, split)
        if mine.empty or full.empty:
            continue
        c = compare(mine, full, metric)
        rows.append({"method": method, "size": int(sizes.get(method, 0)), "score": c.a, "full data": c.b,
                     "difference": c.diff, "low": c.low, "high": c.high, "verdict": c.verdict, "seeds": c.seeds,
                     "examples": c.examples, "split": split})
    return pd.DataFrame(rows)


def _gain_points(pair, method: str, metric: str) -> pd.DataFrame:
    """Per (seed, validation example): ``method``'s point minus full data's, as a frame ``compare`` reads."""
    preds = pair.predictions()
    split = get_task(pair.cfg.task, pair.cfg.declared).eval_splits[0]
    a, b = (_arm(preds, m, split).sort_values(["seed", "example_id"]) for m in (method, "full"))
    keys = ["seed", "example_id"]
    if a.empty or b.empty or not np.array_equal(a[keys].to_numpy(), b[keys].to_numpy()):
        return pd.DataFrame()
    return pd.DataFrame({"seed": a["seed"].to_numpy(), "example_id": a["example_id"].to_numpy(),
                         metric: example_points(a, metric) - example_points(b, metric)})


def growth(pairs: list, method: str = "hscore", metric: str = "accuracy") -> pd.DataFrame:
    """Does ``method``'s gain over full data grow with the noise rate? For each noisy pair against the pair
    with the lowest rate: both gains and the difference of the gains, with its 95% paired bootstrap interval
    (over seeds and the shared validation examples)."""
    ordered = sorted(pairs, key=lambda p: noise_rate(p.cfg))
    base = ordered[0]
    base_points = _gain_points(base, method, metric)
    rows = []
    for pair in ordered[1:]:
        points = _gain_points(pair, method, metric)
        if points.empty or base_points.empty:
            continue
        c = compare(points, base_points, metric)
        rows.append({"rate": noise_rate(pair.cfg), "base rate": noise_rate(base.cfg), "gain": c.a, "base gain": c.b,
                     "difference": c.diff, "low": c.low, "high": c.high, "verdict": c.verdict})
    return pd.DataFrame(rows)
