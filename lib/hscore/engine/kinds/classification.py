"""Sequence classification (one text or a sentence pair): one row per example.

Encoding truncates to ``max_length`` (longest first for pairs); padding happens per batch. A
row is correct when the argmax of its logits is its label; its gold probability is the softmax
at the label. Evaluation reports the task's metric (``hscore.metrics``) on argmax predictions.
"""

from __future__ import annotations

import numpy as np

from ...metrics import METRICS
from .base import EncodingSettings, Features, TaskKind, shorten


class Classification(TaskKind):
    name = "classification"

    def example_text(self, split, i, width=160):
        text_b = split.text_b
        return shorten(split.text_a[i] + ("" if text_b is None else f" || {text_b[i]}"), width)

    def head(self, model_type: str) -> str:
        return "sequence_classification"

    def encode(self, split, tokenizer, settings: EncodingSettings, head: str) -> Features:
        texts = (split.text_a,) if split.text_b is None else (split.text_a, split.text_b)
        enc = tokenizer(*texts, truncation=True, max_length=settings.max_length)
        return Features(enc["input_ids"], enc.get("token_type_ids"), split.labels, split.labels, split.ids,
                        np.zeros(len(split), dtype=np.int64))

    def step(self, outputs, targets):
        from ..batches import classify_step  # torch: only where a model runs

        return classify_step(outputs.logits, targets)

    def num_logits(self, head: str, num_labels: int) -> int:
        return num_labels

    def evaluate_examples(self, model, tokenizer, rows, split, device, precision, head, metric, **options):
        from ..batches import predict_logits  # torch: only where a model runs

        predictions = predict_logits(model, tokenizer, rows, device, precision).argmax(-1)
        return ({metric: METRICS[metric](predictions, rows.targets)},
                {"example_id": split.ids, "label": rows.targets, "prediction": predictions})

    def trivial(self, train, split, head, metric):
        majority = np.bincount(train.labels).argmax()
        return {metric: METRICS[metric](np.full_like(split.labels, majority), split.labels)}
