"""Planted label noise: a seeded, stratified share of a training split's labels flipped to another class.

A task declared in ``study.yaml`` may flip labels (``label_noise: {rate: 0.1, seed: 0}``, on a ``data_of``
alias or a task declared as data), so the same controlled test runs on any classification data (the
``noise`` profile: Rotten Tomatoes at 0, 10% and 20%). The flips are made on the training split *as
trained* (after ``train_cap``): from each class, ``round(rate x its count)`` rows chosen by a seeded
permutation, each given another class (the other one of two; drawn uniformly among the others, seeded,
with more). The validation splits stay clean. The flipped split keeps every row's original label in the
field ``clean_label``, so the split's fingerprint, and with it every run's identity, records exactly which
rows were flipped: a changed rate or seed makes the runs stale, named by what changed.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .split import Split

CLEAN_LABEL = "clean_label"   # the field of a flipped split holding each row's label before the flip


class LabelNoise(BaseModel):
    """``label_noise: {rate, seed}``: the share of training labels flipped (stratified), and the flips' seed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    rate: Annotated[float, Field(ge=0, lt=1)]
    seed: int = 0

    def describe(self) -> str:
        return f"{100 * self.rate:g}% of training labels flipped (seed {self.seed})"


def flip_labels(labels: np.ndarray, num_labels: int, rate: float, seed: int) -> np.ndarray:
    """``labels`` with ``round(rate x n_c)`` rows of each class c (a seeded permutation's first) given another
    class: the other one of two, else one drawn uniformly among the others."""
    labels = np.asarray(labels, dtype=np.int64)
    if num_labels < 2:
        raise ValueError("flipping a label needs at least two classes")
    rng = np.random.default_rng(seed)
    out = labels.copy()
    for label in np.unique(labels):
        mine = rng.permutation(np.flatnonzero(labels == label))
        chosen = mine[:int(round(rate * len(mine)))]
        shift = rng.integers(1, num_labels, size=len(chosen))   # 1 .. C-1: never the label itself
        out[chosen] = (label + shift) % num_labels
    return out


def with_label_noise(split: Split, noise: LabelNoise, num_labels: int) -> Split:
    """``split`` with its labels flipped (``flip_labels``) and the originals kept as ``clean_label``."""
    noisy = flip_labels(split.labels, num_labels, noise.rate, noise.seed)
    return Split(split.ids, noisy, {**split.fields, CLEAN_LABEL: split.labels.tolist()})


def flipped(split: Split) -> np.ndarray | None:
    """Per row of ``split``, whether its label was flipped; None when no noise was planted."""
    if CLEAN_LABEL not in split.fields:
        return None
    return np.asarray(split.labels) != np.asarray(split[CLEAN_LABEL])
