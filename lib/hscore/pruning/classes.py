"""Classes in pruned subsets: each class's share, one warning per class that falls away, the class floor.

The H-score keeps examples by how the scoring runs learned them, and classes are not learned at the
same pace: a class the runs never get right in every epoch (H = 0 for all its examples) leaves the
winning ticket entirely, and a model trained on that ticket never predicts it. Pure functions of the
labels and the subsets' positions (no torch, no study):

- ``class_balance``: examples of each class in the full set and in every subset (count and %), and the
  least kept class's share of its full-set share ("relative": 1 = kept in proportion);
- ``class_warnings``: one line per class that falls below ``UNDER_SHARE`` of its full-set share in the
  winning ticket (or, if not there, in the first smaller subset where it does), or vanishes; what its
  examples' H values were; what keeps it (``class_floor``);
- ``class_floor``: the remedy, off by default so the paper's rule stays the paper's: each class
  restored to at least ``floor`` x its share of the full set (of the subset as returned), by adding
  back that class's pruned examples ranked by how often the scoring runs got them right
  (``correctness``, highest first; ties in training-set order).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

UNDER_SHARE = 0.5   # a class holding less than this fraction of its full-set share in a subset is warned about


def class_counts(labels: np.ndarray, positions: np.ndarray, classes) -> np.ndarray:
    """Examples of each class (in ``classes``' order) at ``positions``."""
    kept = np.asarray(labels)[np.asarray(positions, dtype=np.int64)]
    return np.array([int((kept == c).sum()) for c in classes])


def class_balance(labels: np.ndarray, subsets: dict[str, np.ndarray], names=None) -> pd.DataFrame:
    """One row for the full set, then one per subset (in ``subsets``' order): its size, each class's
    examples and % of the subset, and ``least kept (relative)``: the smallest ratio of a class's share
    of the subset to its share of the full set (1 = every class kept in proportion, 0 = one vanished).
    ``names``: the class names (default: the label values)."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    names = [str(c) for c in classes] if names is None else [names[int(c)] for c in classes]
    full = class_counts(labels, np.arange(len(labels)), classes)
    rows = []
    for name, positions in {"full": np.arange(len(labels)), **subsets}.items():
        counts = class_counts(labels, positions, classes)
        size = int(counts.sum())
        relative = (counts / max(size, 1)) / (full / len(labels))
        rows.append({"subset": name, "size": size, **{n: int(k) for n, k in zip(names, counts)},
                     **{f"{n} %": 100 * k / max(size, 1) for n, k in zip(names, counts)},
                     "least kept (relative)": float(relative.min()) if size else np.nan})
    return pd.DataFrame(rows)


def class_warnings(labels: np.ndarray, subsets: dict[str, np.ndarray], names=None, h: np.ndarray | None = None,
                   runs: int | None = None, threshold: float = UNDER_SHARE, floor: float | None = None) -> list[str]:
    """One line per class that vanishes from, or falls below ``threshold`` x its full-set share in, the
    first subset of ``subsets`` (ordered largest first: the winning ticket) where that happens; with
    ``h`` and ``runs``, how many of its examples have H = 0 and H = R; with ``floor`` (the class floor the
    selection also made), that it adds the class's examples back. Empty when every class is kept."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    names = [str(c) for c in classes] if names is None else [names[int(c)] for c in classes]
    full = class_counts(labels, np.arange(len(labels)), classes)
    out = []
    for i, (c, name) in enumerate(zip(classes, names)):
        share = full[i] / len(labels)
        for j, (subset, positions) in enumerate(subsets.items()):
            if len(positions) == 0:
                continue
            kept = class_counts(labels, positions, classes)[i]
            if kept / len(positions) >= threshold * share:
                continue
            where = "the winning ticket" if j == 0 else f"subset {subset}"
            fate = ("vanishes from" if kept == 0 else
                    f"falls to {100 * kept / len(positions):.1f}% of")
            detail = ""
            if h is not None and runs is not None:
                mine = np.asarray(h)[labels == c]
                detail = f"; {int((mine == 0).sum())} have H = 0 and {int((mine == runs).sum())} H = {runs}"
            out.append(f"class {name!r} ({100 * share:.1f}% of the {len(labels)} training examples) {fate} {where} "
                       f"({kept} of its {full[i]} examples kept{detail}): a model trained on it "
                       f"{'never sees the class' if kept == 0 else 'sees the class rarely'}; class_floor keeps it"
                       + ("" if floor is None else f" (kept: class_floor = {floor:g} adds its examples back)"))
            break
    return out


def class_floor(positions: np.ndarray, labels: np.ndarray, correctness: np.ndarray, floor: float) -> np.ndarray:
    """``positions`` (a subset) with each class restored to at least ``floor`` x its share of the full set
    of the subset *as returned* (``n_c / N`` for the ``n_c`` of the class among the ``N``; the subset grows as
    examples come back, so the need is counted again until every class meets it), adding back the class's
    examples outside the subset in order of ``correctness`` (highest first: the examples the scoring runs
    got right most often; ties in training-set order). Sorted positions; a class already at its floor gets
    nothing, so ``floor`` = 1 keeps every class at least in proportion."""
    if not 0 < floor <= 1:
        raise ValueError(f"class_floor = {floor!r}: a fraction of each class's share in (0, 1]")
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    inside = np.zeros(len(labels), dtype=bool)
    inside[np.asarray(positions, dtype=np.int64)] = True
    order = np.argsort(-np.asarray(correctness, dtype=np.float64), kind="stable")   # most often right first
    waiting = {c: [i for i in order if labels[i] == c and not inside[i]] for c in classes}
    while True:   # each round adds what every class lacks at the current size; the size grows, so count again
        size = int(inside.sum())
        short = {c: math.ceil(floor * n * size / len(labels) - 1e-9) - int(inside[labels == c].sum())
                 for c, n in zip(classes, counts)}
        if all(need <= 0 for need in short.values()):
            return np.flatnonzero(inside)
        for c, need in short.items():
            inside[waiting[c][:max(need, 0)]] = True
            waiting[c] = waiting[c][max(need, 0):]
