"""Fairness of pruning: per-class error rates of models trained on a subset against full data.

From the per-example predictions every run keeps (``hscore.study.results.PairResults.predictions``), pooled over
the phase-2 seeds (the confusion counts of all seeds added up):

- per class c: recall, false positive rate FPR_c (other classes predicted as c) and false negative
  rate FNR_c (c predicted as another class, 1 - recall);
- against a base model (full data at the phase-2 settings), the relative changes in %
  dFPR_c = 100 (FPR_c - FPR_c^base) / FPR_c^base and likewise dFNR_c, and from them
  (Blakeney et al., 2021-2022; ``../shared/paper/README.md``):
  CEV = mean over classes of the squared distance of (dFPR_c, dFNR_c) from their centroid,
  SDE = mean over classes of |dFPR_c - dFNR_c| / sqrt(2). Lower is less induced bias.

With a class floor (``class_floor``: the winning ticket with each class restored to a fraction of its
share, phase-2 method ``floor``), ``floor_effect`` measures the remedy: accuracy and each class's recall
of full data, the ticket and the ticket with the floor, and floor - ticket with its 95% paired-bootstrap
interval (``hscore.analysis.stats.compare``; a class's recall is the accuracy on its examples).

A class whose base rate is 0 has no relative change: it is left out of CEV and SDE (and counted
in ``classes used``). Meaningful for classification; this module imports no torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..pruning.scores import h_score
from .stats import compare, example_points


def class_rates(frame: pd.DataFrame, classes) -> pd.DataFrame:
    """Recall, FPR and FNR (fractions) per class of ``frame``'s predictions (all its seeds pooled)."""
    label, pred = frame["label"].to_numpy(), frame["prediction"].to_numpy()
    rows = []
    for c in classes:
        pos, neg = label == c, label != c
        tp, fn = np.sum(pos & (pred == c)), np.sum(pos & (pred != c))
        fp, tn = np.sum(neg & (pred == c)), np.sum(neg & (pred != c))
        rows.append({"class": c, "recall": tp / max(tp + fn, 1), "fpr": fp / max(fp + tn, 1),
                     "fnr": fn / max(tp + fn, 1)})
    return pd.DataFrame(rows).set_index("class")


def cev_sde(rates: pd.DataFrame, base: pd.DataFrame) -> tuple[float, float, int]:
    """(CEV, SDE, classes used) of ``rates`` against ``base`` (both from ``class_rates``)."""
    ok = (base["fpr"] > 0) & (base["fnr"] > 0)
    d_fpr = 100 * (rates.loc[ok, "fpr"] - base.loc[ok, "fpr"]) / base.loc[ok, "fpr"]
    d_fnr = 100 * (rates.loc[ok, "fnr"] - base.loc[ok, "fnr"]) / base.loc[ok, "fnr"]
    if not ok.any():
        return np.nan, np.nan, 0
    points = np.stack([d_fpr.to_numpy(), d_fnr.to_numpy()], axis=1)
    cev = float(np.mean(np.sum((points - points.mean(axis=0)) ** 2, axis=1)))
    sde = float(np.mean(np.abs(points[:, 0] - points[:, 1]) / np.sqrt(2)))
    return cev, sde, int(ok.sum())


def fairness_table(preds: pd.DataFrame, label_names: tuple[str, ...]) -> pd.DataFrame:
    """Per evaluation split and (method, subset) with predictions: per-class recall (1 - FNR) and
    FPR (%), and CEV and SDE against full data at the phase-2 settings (``hscore.study.results.PairResults.predictions``
    rows)."""
    if preds.empty or "prediction" not in preds.columns:
        return pd.DataFrame()
    classes = range(len(label_names))
    rows = []
    for split, part in preds.groupby("split", sort=False):
        full = part[part["method"] == "full"]
        base = class_rates(full, classes) if len(full) else None
        for (method, subset), frame in part.groupby(["method", "subset"], sort=False):
            rates = class_rates(frame, classes)
            cev, sde, used = cev_sde(rates, base) if base is not None else (np.nan, np.nan, 0)
            rows.append({"split": split, "method": method, "subset": subset, "seeds": frame["seed"].nunique(),
                         **{f"recall {name}": 100 * rates.loc[c, "recall"] for c, name in zip(classes, label_names)},
                         **{f"FPR {name}": 100 * rates.loc[c, "fpr"] for c, name in zip(classes, label_names)},
                         "CEV": cev, "SDE": sde, "classes used": used})
    return pd.DataFrame(rows)


def h_variants(correct: np.ndarray) -> dict[str, np.ndarray]:
    """The paper's H and variants that do not punish what the runs learn late, from ``correct``
    [R, E, N]: H over the last E - 1 epochs only (an example learned during epoch 1 counts as
    learned), and over the last epoch only."""
    E = correct.shape[1]
    out = {"paper H (every epoch)": h_score(correct)}
    if E > 2:
        out[f"H over the last {E - 1} epochs"] = h_score(correct[:, 1:])
    if E > 1:
        out["H over the last epoch"] = h_score(correct[:, -1:])
    return out


def ticket_balance(correct: np.ndarray, labels: np.ndarray, label_names: tuple[str, ...]) -> pd.DataFrame:
    """Per H variant (``h_variants``): the winning ticket's size and each class's share of it (%),
    beside the full set's, and the least kept fraction of a class (its examples in the ticket over
    its examples in the full set, relative to the ticket's fraction of the full set: 1 = kept in
    proportion)."""
    runs = correct.shape[0]
    classes = range(len(label_names))
    full_counts = np.array([(labels == c).sum() for c in classes])
    rows = [{"H": "full set", "ticket size": len(labels),
             **{f"{name} %": 100 * n / len(labels) for name, n in zip(label_names, full_counts)},
             "least kept class (relative)": 1.0}]
    for name, h in h_variants(correct).items():
        keep = (h >= 1) & (h <= runs - 1)
        counts = np.array([(labels[keep] == c).sum() for c in classes])
        share = keep.mean()
        relative = [(n / f) / share for n, f in zip(counts, full_counts) if f > 0] if share > 0 else [np.nan]
        rows.append({"H": name, "ticket size": int(keep.sum()),
                     **{f"{label} %": 100 * n / max(keep.sum(), 1) for label, n in zip(label_names, counts)},
                     "least kept class (relative)": float(np.min(relative))})
    return pd.DataFrame(rows)


def floor_effect(preds: pd.DataFrame, ticket: str, label_names: tuple[str, ...]) -> pd.DataFrame:
    """Per evaluation split, for accuracy and each class's recall: full data, the winning ticket (``hscore``,
    subset ``ticket``) and the ticket with the class floor (``floor``), in % (means over seeds), and floor -
    ticket with its 95% interval and verdict; empty when the floor was not trained."""
    if preds.empty or "prediction" not in preds.columns or not (preds["method"] == "floor").any():
        return pd.DataFrame()
    rows = []
    for split, part in preds.groupby("split", sort=False):
        arms = {"full data": part[part["method"] == "full"], "ticket": part[(part["method"] == "hscore")
                                                                            & (part["subset"] == ticket)],
                "ticket + floor": part[part["method"] == "floor"]}
        measures = [("accuracy", None)] + [(f"recall {name}", c) for c, name in enumerate(label_names)]
        for measure, c in measures:
            pick = {k: (v if c is None else v[v["label"] == c]) for k, v in arms.items()}
            if len(pick["ticket"]) == 0 or len(pick["ticket + floor"]) == 0:
                continue
            diff = compare(pick["ticket + floor"], pick["ticket"], "accuracy")
            full = example_points(pick["full data"], "accuracy").mean() if len(pick["full data"]) else np.nan
            rows.append({"split": split, "measure": measure, "full data": full, "ticket": diff.b,
                         "ticket + floor": diff.a, "floor - ticket": diff.diff, "95% CI low": diff.low,
                         "95% CI high": diff.high, "verdict": diff.verdict, "seeds": diff.seeds,
                         "examples": diff.examples})
    return pd.DataFrame(rows)
