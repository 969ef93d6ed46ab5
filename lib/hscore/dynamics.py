"""``TrainingDynamics``: what every scoring run recorded about every training example.

File contract (one folder per run, ``phase1/run-<r>/``; any trainer that writes this can feed the
scores). ``dynamics.npz`` holds:

==============  ==================  ===========================================================
key             shape, dtype        meaning
==============  ==================  ===========================================================
example_id      [N] int64           the example's id in the task's full training split
label           [N] int64           its gold label
order           [N] int64           positions (into example_id) in the order training saw them,
                                    the same in every epoch
correct         [E, N] bool         argmax of the train-step logits == label
gold_prob       [E, N] float32      softmax probability of the gold label, same logits
logits          [E, N, C] float32   the train-mode logits themselves (before that step's update)
==============  ==================  ===========================================================

``step.json`` beside it holds the seed, the resolved configuration, package versions, device and
wall time. ``TrainingDynamics.load`` stacks the runs of a pair in seed order (the order of
``phase1.seeds``) into arrays of shape [R, E, N].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

RUN_FILE = "dynamics.npz"


@dataclass(frozen=True)
class RunDynamics:
    """One scoring run's record (arrays as in the file contract)."""

    example_id: np.ndarray
    label: np.ndarray
    order: np.ndarray
    correct: np.ndarray
    gold_prob: np.ndarray
    logits: np.ndarray

    def save(self, path: Path) -> None:
        from .store import atomic_save_npz

        atomic_save_npz(path, **{k: getattr(self, k) for k in self.__dataclass_fields__})

    @classmethod
    def load(cls, path: Path) -> "RunDynamics":
        with np.load(path) as f:
            return cls(**{k: f[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class TrainingDynamics:
    """All scoring runs of a pair: correct and gold_prob of shape [R, E, N]."""

    example_id: np.ndarray   # [N]
    label: np.ndarray        # [N]
    seeds: tuple[int, ...]   # [R], the run order
    correct: np.ndarray      # [R, E, N] bool
    gold_prob: np.ndarray    # [R, E, N] float32

    @property
    def runs(self) -> int:
        return self.correct.shape[0]

    @property
    def epochs(self) -> int:
        return self.correct.shape[1]

    @classmethod
    def from_runs(cls, runs: list[RunDynamics], seeds) -> "TrainingDynamics":
        first = runs[0]
        for r in runs[1:]:
            if not (np.array_equal(r.example_id, first.example_id) and np.array_equal(r.label, first.label)):
                raise ValueError("scoring runs were recorded on different training examples")
        return cls(first.example_id, first.label, tuple(seeds),
                   np.stack([r.correct for r in runs]), np.stack([r.gold_prob for r in runs]))

    @classmethod
    def load(cls, run_dirs: list[Path], seeds) -> "TrainingDynamics":
        return cls.from_runs([RunDynamics.load(Path(d) / RUN_FILE) for d in run_dirs], seeds)
