"""Extractive question answering (SQuAD v2, SQuAD v1.1): answer spans in a context.

As the official code (``run_qa.py``) does it: the question is left-stripped, and
``tokenizer(question, context, truncation="only_second", max_length, stride=doc_stride,
return_overflowing_tokens=True, return_offsets_mapping=True)`` cuts a long context into
overlapping windows; **each window is one row**. A window's target is the token span of the
question's first answer when it lies wholly inside the window, else (cls, cls); an unanswerable
question's windows are (cls, cls). ``cls`` is the position of the CLS token, or of the BOS token
for models without one (OPT: position 0).

A row is correct when argmax(start logits) and argmax(end logits) both equal its target; its
gold probability is (softmax(start)[s] + softmax(end)[e]) / 2, half the quantity whose standard
deviation the official code ranks for the ambiguous baseline (same ranking). The loss is the mean
of the start and end cross-entropies (the QA heads' own loss). No logits are kept: a window has
hundreds of positions.

Evaluation post-processes each question's windows (n-best 20, answers of at most 30 tokens, the
null answer when its score beats the best span; never the null answer for a task without
unanswerable questions, ``eval_options={"null_answers": False}``, as SQuAD v1.1's evaluation) and
computes F1 and exact match (in %, official answer normalisation; ``hscore.metrics``) against every
reference answer with the official script of the task's version: the ``squad_v2`` rules, or the
v1.1 rules for a task without unanswerable questions (they differ where a prediction or a
reference normalises to "").
"""

from __future__ import annotations

import math

import numpy as np

from ... import metrics
from ...errors import ConfigError
from .. import squad
from .base import EncodingSettings, Features, StepOutputs, TaskKind, shorten

N_BEST = 20
MAX_ANSWER_TOKENS = 30


def window_targets(input_ids: list[int], offsets, sequence_ids, answers: dict, cls_id: int) -> tuple[int, int]:
    """The (start, end) token target of one window, as the official ``prepare_train_features`` (but for
    an answer in the window's last context token: see the start loop)."""
    cls_index = input_ids.index(cls_id)
    if len(answers["answer_start"]) == 0:
        return cls_index, cls_index
    start_char = answers["answer_start"][0]
    end_char = start_char + len(answers["text"][0])
    first = next(t for t, s in enumerate(sequence_ids) if s == 1)                 # first context token
    last = len(input_ids) - 1 - next(t for t, s in enumerate(reversed(sequence_ids)) if s == 1)
    if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
        return cls_index, cls_index                                               # the answer is not wholly inside
    start = first
    # Stop at the last context token: the official loop runs on into the final separator (offsets
    # (0, 0)) when the answer is the window's last token, and would target that separator.
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1


def check_qa_windows(max_length: int, doc_stride: int, where: str = "") -> None:
    """Extractive QA windows overlap by ``doc_stride`` tokens: it must be under half a window."""
    if not 0 <= doc_stride < max_length // 2:
        raise ConfigError(f"{where}doc_stride = {doc_stride} must be less than half of max_length = {max_length} "
                          "for extractive QA windows; change one of them in study.yaml")


class ExtractiveQA(TaskKind):
    name = "extractive_qa"
    records_logits = False   # a window has hundreds of positions
    per_class = False        # answers are spans, not classes

    def check(self, cfg):
        check_qa_windows(cfg.max_length, cfg.doc_stride, f"profiles.{cfg.profile} ({cfg.model}/{cfg.task}): ")

    def example_text(self, split, i, width=160):
        return shorten(f"{split['question'][i]} -> {'; '.join(split['answers'][i]['text'][:3]) or '(no answer)'}",
                       width)

    def exportable(self, head, score_unit):
        return score_unit == "example"   # a window is part of an example

    def scoring_rules(self, eval_options):
        # v1.1 data (no unanswerable questions) is scored by the v1.1 script; runs scored before with
        # the v2 rules are stale
        return None if eval_options.get("null_answers", True) else "squad_v1.1"

    def head(self, model_type: str) -> str:
        return "question_answering"

    def encode(self, split, tokenizer, settings: EncodingSettings, head: str) -> Features:
        check_qa_windows(settings.max_length, settings.doc_stride)
        questions = [q.lstrip() for q in split["question"]]
        enc = tokenizer(questions, split["context"], truncation="only_second", max_length=settings.max_length,
                        stride=settings.doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
        cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        example = np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64)
        targets, offsets = [], []
        for i, pos in enumerate(example):
            seq_ids = enc.sequence_ids(i)
            targets.append(window_targets(enc["input_ids"][i], enc["offset_mapping"][i], seq_ids,
                                          split["answers"][pos], cls_id))
            offsets.append([tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq_ids)])
        window = np.zeros(len(example), dtype=np.int64)
        for i in range(1, len(example)):
            window[i] = window[i - 1] + 1 if example[i] == example[i - 1] else 0
        targets = np.asarray(targets, dtype=np.int64).reshape(-1, 2)
        cls_positions = np.array([ids.index(cls_id) for ids in enc["input_ids"]], dtype=np.int64)
        has_answer = (targets[:, 0] != cls_positions).astype(np.int64)
        return Features(enc["input_ids"], enc.get("token_type_ids"), targets, has_answer, split.ids[example], window,
                        offsets, extra={"example_position": example})

    def collate(self, rows, positions, tokenizer, device):
        from ..batches import as_targets, pad_batch  # torch: only where a model runs

        return pad_batch(rows, positions, tokenizer, device, side="right"), as_targets(rows.targets[positions], device)

    def step(self, outputs, targets):
        import torch  # only where a model runs

        start, end = outputs.start_logits.float(), outputs.end_logits.float()
        s, e = targets[:, 0], targets[:, 1]
        loss = (torch.nn.functional.cross_entropy(start, s) + torch.nn.functional.cross_entropy(end, e)) / 2
        start, end = start.detach(), end.detach()
        correct = (start.argmax(-1) == s) & (end.argmax(-1) == e)
        gold = (torch.softmax(start, -1).gather(1, s[:, None])[:, 0]
                + torch.softmax(end, -1).gather(1, e[:, None])[:, 0]) / 2
        return StepOutputs(loss, correct, gold, None)

    def num_logits(self, head: str, num_labels: int) -> int:
        return 0

    def window_logits(self, model, tokenizer, rows, device, precision, batch_size: int = 64):
        """Eval-mode start and end logits of every window, cut to the window's length."""
        import torch  # only where a model runs

        from ..batches import autocast, by_length, pad_batch

        model.to(device).eval()
        order = by_length(rows)
        starts, ends = [None] * len(rows), [None] * len(rows)
        with torch.inference_mode():
            for first in range(0, len(rows), batch_size):
                positions = order[first:first + batch_size]
                with autocast(device, precision):
                    out = model(**pad_batch(rows, positions, tokenizer, device, side="right"))
                s, e = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
                for j, p in enumerate(positions):
                    n = len(rows.input_ids[p])
                    starts[p], ends[p] = s[j, :n], e[j, :n]
        return starts, ends

    def evaluate_examples(self, model, tokenizer, rows, split, device, precision, head, metric,
                          null_answers: bool = True):
        """F1 and exact match; with ``null_answers=False`` (a task without unanswerable questions, SQuAD
        v1.1) every question gets its best span, as the v1.1 evaluation does."""
        starts, ends = self.window_logits(model, tokenizer, rows, device, precision)
        answers = squad.postprocess(starts, ends, rows.extra["example_position"], rows.offsets, split["context"],
                                    n_best=N_BEST, max_answer_length=MAX_ANSWER_TOKENS,
                                    null_score_diff_threshold=0.0 if null_answers else math.inf)
        return self.score(split, answers, v1=not null_answers)

    @staticmethod
    def score(split, answers: list[str], v1: bool = False) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """F1 and exact match (%) of one answer per question of ``split``, and per question, under the
        SQuAD v2 rules or (``v1``) the v1.1 rules."""
        ids = [str(i) for i in split.ids]
        per_question = metrics.per_question_v1 if v1 else metrics.per_question
        exact, f1 = per_question(dict(zip(ids, answers)), {i: list(a["text"]) for i, a in zip(ids, split["answers"])})
        per = {"example_id": split.ids, "f1": 100.0 * np.array([f1[i] for i in ids], dtype=np.float64),
               "exact": 100.0 * np.array([exact[i] for i in ids], dtype=np.float64)}
        return {"f1": float(per["f1"].mean()), "exact": float(per["exact"].mean())}, per

    def trivial(self, train, split, head, metric, null_answers: bool = True):
        return self.score(split, [""] * len(split), v1=not null_answers)[0]  # always the null answer
