"""The rows a kind produces (``Features``) and what one training step gives (``StepOutputs``): plain data.

Their own module, below both ``hscore.engine.kinds.base`` and ``hscore.engine.batches``, so that the kinds
can import the tensor helpers where a model runs and the helpers can name the rows, without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Features:
    """Tokenized rows of a split, ready to batch.

    ``input_ids[i]`` is one token sequence (classification, QA windows, option rows) or a list of
    sequences, one per option (multiple-choice head); ``token_type_ids`` likewise or None.
    ``targets`` is what a row's prediction must equal to be correct: a class or option index
    ([n] int64), or a (start, end) token pair ([n, 2] int64) for extractive QA. ``labels`` is
    the row's class for label-balance tables ([n] int64: the class; the gold option; 1 for an
    option row of the correct option; 1 for a QA window that holds the answer).
    """

    input_ids: list
    token_type_ids: list | None
    targets: np.ndarray
    labels: np.ndarray
    example_id: np.ndarray       # [n] int64: the id of the example the row comes from
    feature: np.ndarray          # [n] int64: the row's index within its example (window, option)
    offsets: list | None = None  # extractive QA: per row, per token, (start, end) in the context or None
    extra: dict = field(default_factory=dict)  # kind-specific evaluation data, keyed by name

    def __len__(self) -> int:
        return len(self.targets)

    def take(self, positions) -> Features:
        """The rows at these positions, in this order."""
        positions = np.asarray(positions, dtype=np.int64)
        pick = lambda seq: None if seq is None else [seq[i] for i in positions]
        return Features(pick(self.input_ids), pick(self.token_type_ids), self.targets[positions],
                        self.labels[positions], self.example_id[positions], self.feature[positions],
                        pick(self.offsets), self.extra)

    def tokens(self) -> int:
        """Tokens in all rows, every option of a multiple-choice row counted, padding not."""
        first = self.input_ids[0] if len(self.input_ids) else []
        if first and isinstance(first[0], list):
            return int(sum(len(s) for seqs in self.input_ids for s in seqs))
        return int(sum(len(s) for s in self.input_ids))

    def lengths(self) -> np.ndarray:
        """Tokens per row (the longest option for multiple-choice rows)."""
        first = self.input_ids[0] if len(self.input_ids) else []
        if first and isinstance(first[0], list):
            return np.array([max(len(s) for s in seqs) for seqs in self.input_ids])
        return np.array([len(s) for s in self.input_ids])


@dataclass(frozen=True)
class StepOutputs:
    """What one training step gives: the loss, and per row of the batch what is recorded."""

    loss: torch.Tensor
    correct: torch.Tensor          # [B] bool
    gold_prob: torch.Tensor        # [B] float32
    logits: torch.Tensor | None    # [B, C] float32, or None when the kind keeps no logits
