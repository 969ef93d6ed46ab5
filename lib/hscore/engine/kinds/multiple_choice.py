"""Multiple choice (RACE, Social IQa): a context, a question and k options, one of them right.

Two heads, as in the official code (``run_race.py``):

- ``multiple_choice`` (models with a multiple-choice head, e.g. RoBERTa): one row per question
  holding k sequences ``(context, question with "_" replaced by the option, else question + " " +
  option)``, truncated longest-first; the row is correct when the argmax over its k option scores
  is the gold option, and its gold probability is the k-way softmax at the gold option.
- ``option_rows`` (models without one, e.g. OPT): a 2-label sequence classifier on one row per
  option, ``(context, "Q:" + question with "_" replaced by " " + option, else question + " " +
  option)``, label 1 for the correct option. H and pruning are then per option row, and the
  metric the official code reports is the binary accuracy per row (``row_accuracy``; always
  answering "wrong" scores 1 - 1/k). Beside it we report the k-way ``accuracy`` (argmax over a
  question's option scores, the positive-class logit margin), the number a reader wants.
"""

from __future__ import annotations

import numpy as np

from ...metrics import accuracy
from .base import EncodingSettings, Features, TaskKind, shorten


def option_text(question: str, option: str, head: str) -> str:
    """The second sequence of one option, as the official code builds it for each head."""
    if head == "option_rows":
        return "Q:" + (question.replace("_", " " + option) if "_" in question else question + " " + option)
    return question.replace("_", option) if "_" in question else question + " " + option


class MultipleChoice(TaskKind):
    name = "multiple_choice"
    per_class = False   # an option's position is no class

    def example_text(self, split, i, width=160):
        return shorten(f"{split['question'][i]} -> {' | '.join(split['options'][i])}", width)

    def exportable(self, head, score_unit):
        return head == "multiple_choice" or score_unit == "example"   # option rows are parts of an example

    def head(self, model_type: str) -> str:
        # transformers' table of models with a multiple-choice head (heavy: only where a model is chosen)
        from transformers.models.auto.modeling_auto import MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES

        return "multiple_choice" if model_type in MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES else "option_rows"

    def encode(self, split, tokenizer, settings: EncodingSettings, head: str) -> Features:
        options = split["options"]
        k = len(options[0]) if len(split) else 0
        if any(len(o) != k for o in options):
            raise ValueError("every example of a multiple-choice task must have the same number of options")
        firsts = [c for c in split["context"] for _ in range(k)]
        seconds = [option_text(q, o, head) for q, opts in zip(split["question"], options) for o in opts]
        enc = tokenizer(firsts, seconds, truncation="longest_first", max_length=settings.max_length)
        ids, types = enc["input_ids"], enc.get("token_type_ids")
        if head == "option_rows":
            gold = np.repeat(split.labels, k)
            option = np.tile(np.arange(k, dtype=np.int64), len(split))
            targets = (option == gold).astype(np.int64)
            return Features(ids, types, targets, targets, np.repeat(split.ids, k), option, extra={"options": k})
        group = lambda seq: None if seq is None else [seq[i:i + k] for i in range(0, len(seq), k)]
        return Features(group(ids), group(types), split.labels, split.labels, split.ids,
                        np.zeros(len(split), dtype=np.int64), extra={"options": k})

    def step(self, outputs, targets):
        from ..batches import classify_step  # torch: only where a model runs

        return classify_step(outputs.logits, targets)

    def num_logits(self, head: str, num_labels: int) -> int:
        return 2 if head == "option_rows" else num_labels

    def evaluate_examples(self, model, tokenizer, rows, split, device, precision, head, metric, **options):
        from ..batches import predict_logits  # torch: only where a model runs

        logits = predict_logits(model, tokenizer, rows, device, precision)
        if head == "multiple_choice":
            predictions = logits.argmax(-1)
            return ({"accuracy": accuracy(predictions, rows.targets)},
                    {"example_id": split.ids, "label": rows.targets, "prediction": predictions})
        k = rows.extra["options"]
        margin = (logits[:, 1] - logits[:, 0]).reshape(-1, k)   # rows are grouped by question, options in order
        gold = rows.targets.reshape(-1, k).argmax(-1)
        row_right = (logits.argmax(-1) == rows.targets).reshape(-1, k)
        return ({"accuracy": accuracy(margin.argmax(-1), gold),
                 "row_accuracy": accuracy(logits.argmax(-1), rows.targets)},
                {"example_id": split.ids, "label": gold, "prediction": margin.argmax(-1),
                 "row_accuracy": 100.0 * row_right.mean(-1)})

    def trivial(self, train, split, head, metric):
        majority = np.bincount(train.labels).argmax()  # the most frequent gold option position
        out = {"accuracy": accuracy(np.full_like(split.labels, majority), split.labels)}
        if head == "option_rows":
            out["row_accuracy"] = 100.0 * (1 - 1 / len(split["options"][0]))  # always "wrong"
        return out
