"""Label balance: how many examples of each class every subset keeps, and a warning when one nearly vanishes.

The H-score keeps examples by how the scoring runs learned them, and classes are not learned at the
same pace, so a subset can keep a class well below its share of the full set. ``label_balance``
counts, ``vanishing_classes`` warns; both read the scores table and the subsets, nothing else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..study.selection import Subsets

VANISHING = 0.25  # a class keeping less than this fraction of its share of the full set "nearly vanishes"


def label_balance(scores: pd.DataFrame, subsets: Subsets) -> pd.DataFrame:
    """Examples per label in the full set and in every H-score subset (count and % of the subset)."""
    labels = scores["label"].to_numpy()
    classes = np.unique(labels)
    rows = [("full", np.arange(len(labels)))] + [(spec.name, subsets.positions("hscore", spec.name, 0))
                                                 for spec in subsets.specs]
    out = []
    for name, positions in rows:
        counts = np.array([(labels[positions] == c).sum() for c in classes])
        total = max(counts.sum(), 1)
        out.append({"subset": name, "size": int(counts.sum()),
                    **{f"label {c}": int(n) for c, n in zip(classes, counts)},
                    **{f"label {c} %": 100 * n / total for c, n in zip(classes, counts)}})
    return pd.DataFrame(out)


def vanishing_classes(balance: pd.DataFrame) -> list[str]:
    """A warning per (subset, label) whose share fell below ``VANISHING`` of its share in the full set."""
    full = balance.iloc[0]
    warnings = []
    for _, row in balance.iloc[1:].iterrows():
        for col in [c for c in balance.columns if c.endswith(" %")]:
            if row["size"] and full[col] > 0 and row[col] < VANISHING * full[col]:
                label = col.removesuffix(" %")
                warnings.append(f"{row['subset']}: {label} keeps {row[label]} of its {full[label]} examples "
                                f"({row[col]:.1f}% of the subset against {full[col]:.1f}% of the full set)")
    return warnings
