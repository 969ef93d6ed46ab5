"""A split of a task: stable example ids, gold labels and named per-example fields.

The fields depend on the task's kind (``hscore.engine.kinds``); every example keeps an ``id``, its
index in the task's full split, so that capped runs, scores and subsets of the same task can be
compared example by example. ``fingerprint`` is what a run's identity records of its data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class Split:
    """One split of a task: stable ids, gold labels and named per-example fields.

    The fields depend on the task's kind (``hscore.engine.kinds``):

    - ``classification``: ``text_a`` and, for sentence pairs, ``text_b`` (str each);
      ``labels`` are class ids;
    - ``extractive_qa``: ``question``, ``context`` (str) and ``answers``
      (``{"text": [str, ...], "answer_start": [int, ...]}``, empty lists when unanswerable);
      ``labels`` are 1 for an answerable question, 0 for an unanswerable one;
    - ``multiple_choice``: ``context``, ``question`` (str) and ``options`` (list of str, the same
      number for every example); ``labels`` are the index of the correct option.
    """

    ids: np.ndarray              # int64, unique, index in the task's full split
    labels: np.ndarray           # int64, see above
    fields: dict[str, list]      # one list per field, each of length len(ids)

    def __post_init__(self):
        n = len(self.ids)
        if len(self.labels) != n or any(len(v) != n for v in self.fields.values()):
            raise ValueError("ids, labels and every field of a split must have the same length")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, field: str) -> list:
        return self.fields[field]

    @property
    def text_a(self) -> list[str]:
        return self.fields["text_a"]

    @property
    def text_b(self) -> list[str] | None:
        return self.fields.get("text_b")

    def take(self, positions) -> Split:
        """The examples at these positions, in this order."""
        positions = np.asarray(positions, dtype=np.int64)
        return Split(self.ids[positions], self.labels[positions],
                     {name: [values[i] for i in positions] for name, values in self.fields.items()})

    def cap(self, n: int | None, seed: int, stratified: bool = False) -> Split:
        """A seeded random sample of ``n`` examples, kept in their original order (None: all): the first
        ``n`` of one seeded permutation, so that with one seed a smaller cap lies inside a larger one.
        ``stratified``: of ``stratified_order``'s permutation, so every cap keeps the classes' shares."""
        if n is None or n >= len(self):
            return self
        rng = np.random.default_rng(seed)
        order = stratified_order(self.labels, seed) if stratified else rng.permutation(len(self))
        return self.take(np.sort(order[:n]))

    def fingerprint(self) -> str:
        """A short hash of the ids, labels and every field's content."""
        h = hashlib.sha256(np.ascontiguousarray(self.ids).tobytes() + np.ascontiguousarray(self.labels).tobytes())
        for name in sorted(self.fields):
            h.update(name.encode())
            h.update(json.dumps(self.fields[name], sort_keys=True, ensure_ascii=False).encode())
        return h.hexdigest()[:16]


def text_split(ids, text_a: list[str], text_b: list[str] | None, labels) -> Split:
    """A classification split of one text (``text_b`` None) or of sentence pairs."""
    fields = {"text_a": list(text_a)} if text_b is None else {"text_a": list(text_a), "text_b": list(text_b)}
    return Split(np.asarray(ids, dtype=np.int64), np.asarray(labels, dtype=np.int64), fields)



def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of positions whose every prefix holds each class in its share of ``labels``
    (to within one example): each class is shuffled, its i-th member placed at (i + u) / n_class with u
    uniform in [0, 1), and the positions sorted by place. The first N of it are a stratified sample of N,
    and the samples of one seed are nested (the ``scaling`` profile's training sets)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    place = np.empty(len(labels))
    for label in np.unique(labels):
        where = rng.permutation(np.flatnonzero(labels == label))
        place[where] = (np.arange(len(where)) + rng.random(len(where))) / len(where)
    return np.argsort(place, kind="stable")


def fold_of(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The cross-validation fold (0..K-1) of every row, stratified as scikit-learn's ``StratifiedKFold``: each
    class's rows, in a seeded order, dealt to the folds in turn (the next class starting where the last one
    stopped), so each fold holds each class's share to within one row, and the folds' sizes differ by one at most."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    start = 0
    for label in np.unique(labels):
        mine = rng.permutation(np.flatnonzero(labels == label))
        fold[mine] = (start + np.arange(len(mine))) % folds
        start += len(mine)
    return fold


def with_class_shares(split: Split, shares: dict[int, float], seed: int) -> Split:
    """``split`` with each class of ``shares`` sampled down (seeded, original order kept) so that it holds
    that share of the result; the other classes whole: a deliberately imbalanced training set (the
    ``classes`` profile). One ``ConfigError`` line when a share cannot be reached by sampling down."""
    labels = split.labels
    rest = int((~np.isin(labels, list(shares))).sum())
    if sum(shares.values()) >= 1 or rest == 0:
        raise ConfigError(f"class_shares {shares}: the other classes need a share too (the shares add up to < 1)")
    left = 1 - sum(shares.values())
    rng = np.random.default_rng(seed)
    keep = [np.flatnonzero(~np.isin(labels, list(shares)))]
    for label, share in sorted(shares.items()):
        mine = np.flatnonzero(labels == label)
        want = int(round(share * rest / left))
        if want > len(mine):
            raise ConfigError(f"class_shares: class {label} has {len(mine)} examples, fewer than the {want} its share "
                              f"{share:g} needs; give a smaller share")
        keep.append(rng.permutation(mine)[:want])
    return split.take(np.sort(np.concatenate(keep)))


def stratified_split(labels: np.ndarray, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of positions: (train, validation), each sorted."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        where = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(validation_fraction * len(where)))
        val.append(where[:n_val])
        train.append(where[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


