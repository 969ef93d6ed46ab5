"""The interface every task kind implements; the tokenized rows it produces (``Features``) are in ``features``.

A *row* is the unit the training loop batches, records and prunes: an example for classification
and for multiple choice with a multiple-choice head, a window of the context for extractive QA,
an option for multiple choice without such a head (OPT). ``Features.example_id`` and
``Features.feature`` say which example a row comes from and which of its rows it is.

A kind owns two sets of answers. Its **rules**, asked by the plan, the tables, the book and
``hscore prune``, which name no kind (they need no torch):

- ``check(cfg)``: the settings the kind cannot train with, one ``ConfigError`` line each;
- ``records_logits``: whether a training step keeps each row's logits (baselines that rank by
  logits need them);
- ``per_class``: whether its predictions are classes, so per-class error rates mean something;
- ``example_text(split, i)``: one example, shown as one line;
- ``exportable(head, score_unit)``: whether a subset's scoring units are whole examples, so it
  can be written back as rows of the user's file;
- ``scoring_rules(eval_options)``: the name of the evaluation rules it applies with these options
  when they are not the ones it has always applied (None), so that runs scored before are stale.

Its **engine** answers, asked by the training loop and the evaluation, which ask nothing else:

- ``head(model_type)``: which model head it trains for this model (a name in ``HEADS``);
- ``encode(split, tokenizer, settings, head)``: the split's rows, tokenized once;
- ``collate(rows, positions, tokenizer, device)``: a padded batch of model inputs, and the targets;
- ``step(outputs, targets)``: the loss of a training step and, per row of the batch, whether it
  was right (``correct``), the probability it gave its gold target (``gold_prob``) and, where
  small enough to keep, its logits;
- ``num_logits(head, num_labels)``: the width of the logits kept per row;
- ``evaluate_examples(model, tokenizer, rows, split, device, precision, head, metric)``: the
  task's metrics (percentages) on an evaluation split, and per evaluation example what they are
  computed from (kept with every run, for bootstrap intervals and per-class error rates);
  ``evaluate`` returns the metrics alone; ``trivial(train, split, head, metric, **options)``: the
  same metrics for a model that ignores its input (majority class, null answer).

A new kind is a subclass and one ``register`` call (``hscore.engine.kinds``). The engine methods
import torch where they run (``hscore.engine.batches``), so asking a kind its rules costs no torch.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .features import Features, StepOutputs

if TYPE_CHECKING:
    import torch

# Model heads by name: the name of the transformers Auto class that builds each (hscore.engine.models).
HEADS = {
    "sequence_classification": "AutoModelForSequenceClassification",
    "question_answering": "AutoModelForQuestionAnswering",
    "multiple_choice": "AutoModelForMultipleChoice",
    "option_rows": "AutoModelForSequenceClassification",  # multiple choice without such a head: 2 labels per option
}


@dataclass(frozen=True)
class EncodingSettings:
    """What encoding depends on beyond the tokenizer (from the pair's configuration)."""

    max_length: int      # tokens per sequence (per window for extractive QA, per option for multiple choice)
    doc_stride: int      # extractive QA: tokens shared by consecutive windows of a long context


def shorten(text: str, width: int = 160) -> str:
    """A text as one line of at most ``width`` characters."""
    return textwrap.shorten(" ".join(str(text).split()), width=width, placeholder=" ...")


class TaskKind:
    """A kind of task (see the module docstring). Subclasses implement every engine method and
    set the rules that differ from these defaults."""

    name: str = ""
    records_logits: bool = True    # a training step keeps each row's logits
    per_class: bool = True         # predictions are classes (per-class error rates mean something)

    # --- rules ------------------------------------------------------------------------------------

    def check(self, cfg) -> None:
        """Raise a ``ConfigError`` for a setting of the pair ``cfg`` this kind cannot train with."""

    def example_text(self, split, i: int, width: int = 160) -> str:
        """Example ``i`` of ``split`` as one shortened line."""
        raise NotImplementedError

    def exportable(self, head: str, score_unit: str) -> bool:
        """Whether a subset's scoring units are whole examples (rows of the user's data)."""
        return True

    def scoring_rules(self, eval_options: dict) -> str | None:
        """The evaluation rules applied with the task's ``eval_options``, named where they changed since
        results were first recorded (a run's identity holds the name), None where they did not."""
        return None

    # --- engine -----------------------------------------------------------------------------------

    def head(self, model_type: str) -> str:
        raise NotImplementedError

    def encode(self, split, tokenizer, settings: EncodingSettings, head: str) -> Features:
        raise NotImplementedError

    def collate(self, rows: Features, positions, tokenizer, device: torch.device) -> tuple[dict, torch.Tensor]:
        from ..batches import as_targets, pad_batch  # torch: only where a model runs

        return pad_batch(rows, positions, tokenizer, device), as_targets(rows.targets[positions], device)

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

    def trivial(self, train, split, head: str, metric: str, **options) -> dict[str, float]:
        raise NotImplementedError
