"""``TrainingDynamics``: what every scoring run recorded about every training row.

A *row* is what the training loop batches (``hscore.engine.kinds.base.Features``): an example for
classification and multiple choice with a multiple-choice head, one window of the context for
extractive QA, one option for multiple choice without such a head (OPT).

File contract (one folder per run, ``phase1/run-<r>/``; any trainer that writes this can feed the
scores). ``dynamics.npz`` holds:

==============  ==================  ===========================================================
key             shape, dtype        meaning
==============  ==================  ===========================================================
example_id      [N] int64           id of the row's example in the task's full training split
feature         [N] int64           the row's index within its example (window, option); 0 when
                                    an example is one row
label           [N] int64           the row's class, for label balance: the class; the gold
                                    option; 1 for the correct option's row (option rows); 1 for a
                                    QA window that holds the answer, else 0
target          [N] or [N, 2] int64 what the prediction must equal: class or option index;
                                    (start, end) token positions for extractive QA
order           [N] int64           positions (into example_id) in the order training saw them,
                                    the same in every epoch
correct         [E, N] bool         the train-step prediction equals the target (QA: argmax start
                                    and argmax end both do)
gold_prob       [E, N] float32      softmax probability of the target, same logits (QA: the mean
                                    of the start and end probabilities)
logits          [E, N, C] float32   the train-mode logits themselves (before that step's update);
                                    C = 0 for extractive QA, whose windows have hundreds of positions
eval_logits     [N, C] float32      the logits of one eval-mode pass (dropout off, no update) over
                                    every training row at the end of epoch ``el2n_epoch`` (EL2N as
                                    its authors score it); [N, 0] when no pass was recorded (the
                                    setting is null, or the kind keeps no logits); absent in runs
                                    recorded before it existed (read as [N, 0])
==============  ==================  ===========================================================

``step.json`` beside it holds the seed, the resolved configuration, package versions, device and
wall time. ``TrainingDynamics.load`` stacks the runs of a pair in seed order (the order of
``phase1.seeds``) into arrays of shape [R, E, N].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import paths
from .files import atomic_save_npz

RUN_FILE = paths.RUN_FILE


@dataclass(frozen=True)
class RunDynamics:
    """One scoring run's record (arrays as in the file contract)."""

    example_id: np.ndarray
    feature: np.ndarray
    label: np.ndarray
    target: np.ndarray
    order: np.ndarray
    correct: np.ndarray
    gold_prob: np.ndarray
    logits: np.ndarray
    eval_logits: np.ndarray | None = None   # [N, C], [N, 0] when no eval pass was recorded

    def __post_init__(self):
        if self.eval_logits is None:
            object.__setattr__(self, "eval_logits", np.zeros((len(self.example_id), 0), dtype=np.float32))

    def save(self, path: Path) -> None:
        atomic_save_npz(path, **{k: getattr(self, k) for k in self.__dataclass_fields__})

    @classmethod
    def load(cls, path: Path) -> RunDynamics:
        with np.load(path) as f:
            return cls(**{k: f[k] for k in cls.__dataclass_fields__ if k in f.files})


@dataclass(frozen=True)
class TrainingDynamics:
    """All scoring runs of a pair: correct and gold_prob of shape [R, E, N]."""

    example_id: np.ndarray   # [N]
    feature: np.ndarray      # [N]
    label: np.ndarray        # [N]
    seeds: tuple[int, ...]   # [R], the run order
    correct: np.ndarray      # [R, E, N] bool
    gold_prob: np.ndarray    # [R, E, N] float32
    target: np.ndarray | None = None  # [N] class or option index; None where a row has no single class
    logits: np.ndarray | None = None  # [R, E, N, C] float32; None where none were recorded (QA: C = 0)
    eval_logits: np.ndarray | None = None  # [R, N, C] float32 of the eval pass (EL2N); None where none was

    @property
    def runs(self) -> int:
        return self.correct.shape[0]

    @property
    def epochs(self) -> int:
        return self.correct.shape[1]

    @classmethod
    def from_runs(cls, runs: list[RunDynamics], seeds) -> TrainingDynamics:
        first = runs[0]
        for r in runs[1:]:
            if not all(np.array_equal(getattr(r, k), getattr(first, k)) for k in ("example_id", "feature", "target")):
                raise ValueError("scoring runs were recorded on different training rows")
        logits = first.logits.shape[-1] > 0 and first.target.ndim == 1
        passes = logits and all(r.eval_logits.shape[-1] > 0 for r in runs)
        return cls(first.example_id, first.feature, first.label, tuple(seeds),
                   np.stack([r.correct for r in runs]), np.stack([r.gold_prob for r in runs]),
                   first.target if logits else None, np.stack([r.logits for r in runs]) if logits else None,
                   np.stack([r.eval_logits for r in runs]) if passes else None)

    @classmethod
    def load(cls, run_dirs: list[Path], seeds) -> TrainingDynamics:
        return cls.from_runs([RunDynamics.load(Path(d) / RUN_FILE) for d in run_dirs], seeds)

    def by_example(self) -> TrainingDynamics:
        """The dynamics of whole examples: an example is correct in a run and epoch when all its rows
        are, its gold probability is the mean over its rows, its label the maximum (QA: 1 when any
        window holds the answer). Examples in order of first appearance; no logits (an example of
        several rows has no single class)."""
        ids, first, inverse = np.unique(self.example_id, return_index=True, return_inverse=True)
        keep = np.argsort(first, kind="stable")            # order of first appearance
        rank = np.empty_like(keep)
        rank[keep] = np.arange(len(keep))
        group = rank[inverse]                               # row -> example position
        n = len(ids)
        counts = np.bincount(group, minlength=n)
        wrong = np.zeros(self.correct.shape[:2] + (n,), dtype=np.int64)
        np.add.at(wrong, (slice(None), slice(None), group), ~self.correct)
        prob = np.zeros(self.gold_prob.shape[:2] + (n,), dtype=np.float64)
        np.add.at(prob, (slice(None), slice(None), group), self.gold_prob)
        label = np.zeros(n, dtype=np.int64)
        np.maximum.at(label, group, self.label)
        return TrainingDynamics(ids[keep], np.zeros(n, dtype=np.int64), label, self.seeds, wrong == 0,
                                (prob / counts).astype(np.float32))
