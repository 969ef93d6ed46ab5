"""The interface every task kind implements, and the tokenized rows (``Features``) it produces.

A *row* is the unit the training loop batches, records and prunes: an example for classification
and for multiple choice with a multiple-choice head, a window of the context for extractive QA,
an option for multiple choice without such a head (OPT). ``Features.example_id`` and
``Features.feature`` say which example a row comes from and which of its rows it is.

A kind answers five questions, and the training loop asks nothing else:

- ``head(model_type)``: which model head it trains for this model (a name in ``HEADS``);
- ``encode(split, tokenizer, settings, head)``: the split's rows, tokenized once;
- ``collate(rows, positions, tokenizer, device)``: a padded batch of model inputs, and the targets;
- ``step(outputs, targets)``: the loss of a training step and, per row of the batch, whether it
  was right (``correct``), the probability it gave its gold target (``gold_prob``) and, where
  small enough to keep, its logits;
- ``evaluate_examples(model, tokenizer, rows, split, device, precision, head, metric)``: the
  task's metrics (percentages) on an evaluation split, and per evaluation example what they are
  computed from (``ExamplePredictions``: kept with every run, for bootstrap intervals and per-class
  error rates); ``evaluate`` returns the metrics alone; ``trivial(train, split, head, metric)``:
  the same metrics for a model that ignores its input (majority class, null answer).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import (AutoModelForMultipleChoice, AutoModelForQuestionAnswering,
                          AutoModelForSequenceClassification)

# Model heads by name: the Auto class that builds each.
HEADS = {
    "sequence_classification": AutoModelForSequenceClassification,
    "question_answering": AutoModelForQuestionAnswering,
    "multiple_choice": AutoModelForMultipleChoice,
    "option_rows": AutoModelForSequenceClassification,  # multiple choice without such a head: 2 labels per option
}


@dataclass(frozen=True)
class EncodingSettings:
    """What encoding depends on beyond the tokenizer (from the pair's configuration)."""

    max_length: int      # tokens per sequence (per window for extractive QA, per option for multiple choice)
    doc_stride: int      # extractive QA: tokens shared by consecutive windows of a long context


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

    def take(self, positions) -> "Features":
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


def pad(seqs: list[list[int]], value: int, side: str = "right") -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token sequences to the longest: (ids [B, L], attention mask [B, L])."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), value, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        span = slice(width - len(s), width) if side == "left" else slice(0, len(s))
        ids[row, span] = torch.tensor(s, dtype=torch.long)
        mask[row, span] = 1
    return ids, mask


def pad_batch(rows: Features, positions, tokenizer, device: torch.device, side: str | None = None) -> dict:
    """Model inputs of the rows at ``positions``, padded to their longest sequence.

    Multiple-choice rows (a list of sequences each) become [B, options, L] tensors."""
    side = side or tokenizer.padding_side
    seqs = [rows.input_ids[i] for i in positions]
    types = None if rows.token_type_ids is None else [rows.token_type_ids[i] for i in positions]
    nested = bool(seqs) and bool(seqs[0]) and isinstance(seqs[0][0], list)
    if nested:
        options = len(seqs[0])
        seqs = [s for row in seqs for s in row]
        types = None if types is None else [t for row in types for t in row]
    ids, mask = pad(seqs, tokenizer.pad_token_id, side)
    batch = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        batch["token_type_ids"] = pad(types, 0, side)[0]
    if nested:
        batch = {k: v.view(len(positions), options, -1) for k, v in batch.items()}
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def autocast(device: torch.device, precision: str):
    """Mixed precision on a GPU (fp16 or bf16); the CPU always computes in fp32."""
    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.float16 if precision == "fp16" else torch.bfloat16)


def by_length(rows: Features) -> np.ndarray:
    """Row positions sorted by length (stable): evaluation batches waste little padding."""
    return np.argsort(rows.lengths(), kind="stable")


def classify_step(logits: torch.Tensor, targets: torch.Tensor) -> StepOutputs:
    """Cross-entropy over the last axis; correct = argmax == target; gold_prob = softmax at the target."""
    logits = logits.float()
    loss = torch.nn.functional.cross_entropy(logits, targets)
    detached = logits.detach()
    gold = torch.softmax(detached, dim=-1).gather(1, targets[:, None])[:, 0]
    return StepOutputs(loss, detached.argmax(-1) == targets, gold, detached)


@torch.inference_mode()
def predict_logits(model, tokenizer, rows: Features, device: torch.device, precision: str,
                   batch_size: int = 128) -> np.ndarray:
    """Eval-mode logits of every row, in the order of ``rows`` (batched by length)."""
    model.to(device).eval()
    order = by_length(rows)
    out = None
    for start in range(0, len(rows), batch_size):
        positions = order[start:start + batch_size]
        with autocast(device, precision):
            logits = model(**pad_batch(rows, positions, tokenizer, device)).logits.float().cpu().numpy()
        if out is None:
            out = np.empty((len(rows), logits.shape[-1]), dtype=np.float32)
        out[positions] = logits
    return out


class TaskKind:
    """A kind of task (see the module docstring). Subclasses implement every method."""

    name: str = ""

    def head(self, model_type: str) -> str:
        raise NotImplementedError

    def encode(self, split, tokenizer, settings: EncodingSettings, head: str) -> Features:
        raise NotImplementedError

    def collate(self, rows: Features, positions, tokenizer, device: torch.device) -> tuple[dict, torch.Tensor]:
        targets = torch.as_tensor(rows.targets[positions], device=device)
        return pad_batch(rows, positions, tokenizer, device), targets

    def step(self, outputs, targets: torch.Tensor) -> StepOutputs:
        raise NotImplementedError

    def num_logits(self, head: str, num_labels: int) -> int:
        """Width of the logits kept per row (0: none are kept)."""
        raise NotImplementedError

    def evaluate(self, model, tokenizer, rows: Features, split, device: torch.device, precision: str, head: str,
                 metric: str, **options) -> dict[str, float]:
        """The metrics alone (``evaluate_examples``)."""
        return self.evaluate_examples(model, tokenizer, rows, split, device, precision, head, metric, **options)[0]

    def evaluate_examples(self, model, tokenizer, rows: Features, split, device: torch.device, precision: str,
                          head: str, metric: str, **options) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """The metrics, and per evaluation example (in the order of ``split``) the arrays they come
        from: ``example_id``, and ``label`` and ``prediction`` (a class or option) where the kind
        predicts one, and a value per example (in %) of every metric that is a mean over examples
        and is not plain accuracy (QA ``f1``, ``exact``; ``row_accuracy`` of option rows).
        ``options``: the task's ``eval_options`` (kind-specific, e.g. ``null_answers`` for QA)."""
        raise NotImplementedError

    def trivial(self, train, split, head: str, metric: str) -> dict[str, float]:
        raise NotImplementedError
