"""The paper's two model families end to end on tiny random models: RoBERTa (multiple-choice head, ``<s> A
</s></s> B </s>``) and OPT (no CLS, no multiple-choice head, ``</s> A B`` via ``paper_pair_template``).

Tokenizers are byte-level BPEs trained here (no Hub); expected layouts are built from ``ids(text)`` (each text
encoded alone, no special tokens), independently of the kinds' code.
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
import transformers
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoTokenizer, OPTConfig, RobertaConfig

from hscore.config import PhaseConfig
from hscore.data import Split
from hscore.engine import squad
from hscore.engine.kinds import HEADS, KINDS, EncodingSettings
from hscore.engine.pair_template import paper_pair_template
from hscore.engine.train import fine_tune, training_order
from test_pair_template import opt_folder, paragraph, sentence  # noqa: F401  (opt_folder: a fixture)

CPU = torch.device("cpu")
CTX, Q = "The cat sat on the mat.", "Where did the cat sit?"
MC = Split(np.arange(6), np.array([0, 2, 1, 0, 2, 1]),
           {"context": [paragraph(random.Random(3), 4)] + [CTX] * 5,
            "question": ["The _ was red.", Q] * 3, "options": [["mat", "tree", "big dog"]] * 6})


def ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def tiny(head, tok, **kw):
    """A random 2-layer, 32-wide model of the tokenizer's family with the head's Auto class."""
    torch.manual_seed(0)
    opt = tok.cls_token_id is None  # OPT has no CLS token
    family = {"ffn_dim": 64, "word_embed_proj_dim": 32} if opt else {"intermediate_size": 64}
    config = (OPTConfig if opt else RobertaConfig)(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                                                   num_attention_heads=2, max_position_embeddings=130,
                                                   pad_token_id=tok.pad_token_id, **family, **kw)
    return getattr(transformers, HEADS[head]).from_config(config)


def train_eval(kind, model, tok, rows, split, head, batch_size=3, grad_accum=1, num_labels=2, **options):
    hp = PhaseConfig(seeds=(0,), epochs=1, lr=1e-3, batch_size=batch_size, grad_accum=grad_accum)
    dyn = fine_tune(model, kind, tok, rows, hp, seed=0, order=training_order(len(rows), 0), device=CPU,
                    num_logits=kind.num_logits(head, num_labels))
    return dyn, kind.evaluate(model, tok, rows, split, CPU, "fp32", head, "accuracy", **options)


@pytest.fixture(scope="module")
def roberta_tok(tmp_path_factory):
    folder, rng = tmp_path_factory.mktemp("roberta-like"), random.Random(0)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([sentence(rng, rng.randint(3, 12)) for _ in range(400)], vocab_size=500, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    bpe.save_model(str(folder))
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "RobertaTokenizer"}))
    tok = AutoTokenizer.from_pretrained(folder)
    assert [tok.cls_token_id, tok.pad_token_id, tok.sep_token_id, tok.unk_token_id] == [0, 1, 2, 3]
    return tok


@pytest.fixture(scope="module")
def opt_tok(opt_folder):  # noqa: F811
    return paper_pair_template(AutoTokenizer.from_pretrained(opt_folder), "opt")


def test_roberta_multiple_choice(roberta_tok):
    tok, kind, L = roberta_tok, KINDS["multiple_choice"], 40
    assert kind.head("roberta") == "multiple_choice"
    rows = kind.encode(MC, tok, EncodingSettings(L, 0), "multiple_choice")
    assert len(rows) == 6 and all(len(r) == 3 for r in rows.input_ids)
    for c, q, opts, seqs in zip(MC["context"], MC["question"], MC["options"], rows.input_ids):
        for o, seq in zip(opts, seqs):
            a, b = ids(tok, c), ids(tok, q.replace("_", o) if "_" in q else q + " " + o)
            assert len(b) < (L - 4) / 2  # longest-first then cuts only the context
            assert seq == [0] + a[:L - 4 - len(b)] + [2, 2] + b + [2]
    assert tok.decode(rows.input_ids[1][2]) == f"<s>{CTX}</s></s>{Q} big dog</s>"
    assert tok.decode(rows.input_ids[0][2]).endswith("</s></s>The big dog was red.</s>")
    assert len(rows.input_ids[0][0]) == L and len(rows.input_ids[1][0]) < L  # the long context was truncated
    model = tiny("multiple_choice", tok)
    dyn, metrics = train_eval(kind, model, tok, rows, MC, "multiple_choice", batch_size=2, grad_accum=2, num_labels=3)
    assert set(metrics) == {"accuracy"} and 0 <= metrics["accuracy"] <= 100
    assert dyn.logits.shape == (1, 6, 3)
    np.testing.assert_array_equal(dyn.correct[0], dyn.logits[0].argmax(-1) == dyn.target)
    np.testing.assert_array_equal(dyn.target, MC.labels)


def test_opt_option_rows(opt_tok):
    tok, kind, k = opt_tok, KINDS["multiple_choice"], 3
    assert kind.head("opt") == "option_rows"
    rows = kind.encode(MC, tok, EncodingSettings(64, 0), "option_rows")
    assert len(rows) == 6 * k
    np.testing.assert_array_equal(rows.example_id, np.repeat(MC.ids, k))
    np.testing.assert_array_equal(rows.feature, np.tile(np.arange(k), 6))
    np.testing.assert_array_equal(rows.targets, [int(j == g) for g in MC.labels for j in range(k)])
    for r, seq in enumerate(rows.input_ids):
        c, q, o = MC["context"][r // k], MC["question"][r // k], MC["options"][r // k][r % k]
        second = "Q:" + (q.replace("_", " " + o) if "_" in q else q + " " + o)
        assert seq == [2] + ids(tok, c) + ids(tok, second) and 2 not in seq[1:]
    assert tok.decode(rows.input_ids[5]) == f"</s>{CTX}Q:{Q} big dog"
    assert tok.decode(rows.input_ids[2]).endswith(".Q:The  big dog was red.")  # " " + option replaces "_"
    model = tiny("option_rows", tok, num_labels=2)
    _, metrics = train_eval(kind, model, tok, rows, MC, "option_rows")
    assert set(metrics) == {"accuracy", "row_accuracy"} and all(0 <= v <= 100 for v in metrics.values())
    assert kind.trivial(MC, MC, "option_rows", "accuracy")["row_accuracy"] == pytest.approx(100 * (1 - 1 / k))


def test_opt_extractive_qa(opt_tok, monkeypatch):
    tok, kind, rng = opt_tok, KINDS["extractive_qa"], random.Random(5)
    answer = "purple zebra"
    long = paragraph(rng, 6) + f" The {answer} slept. " + paragraph(rng, 2)
    contexts = [long, CTX, "Today the " + answer + " ran."]
    answers = [{"text": [answer] * (answer in c), "answer_start": [c.find(answer)] * (answer in c)} for c in contexts]
    split = Split(np.arange(3), np.array([1, 0, 1]), {"question": [" Who slept?", Q, "Who ran?"],
                                                       "context": contexts, "answers": answers})
    rows = kind.encode(split, tok, EncodingSettings(48, 12), "question_answering")
    example = rows.extra["example_position"]
    assert (example == 0).sum() >= 3 and (example == 1).sum() == 1
    inside = outside = 0
    for seq, (s, e), ex in zip(rows.input_ids, rows.targets, example):
        q = ids(tok, split["question"][ex].lstrip())
        assert seq[0] == 2 and 2 not in seq[1:] and seq[1:1 + len(q)] == q
        if ex != 1 and answer in tok.decode(seq[1 + len(q):]):  # the answer lies wholly in the window
            inside += 1
            assert tok.decode(seq[s:e + 1]).strip() == answer
        else:
            outside += ex == 0
            assert (s, e) == (0, 0)  # OPT has no CLS: the BOS at position 0
    assert inside >= 2 and outside >= 1
    calls, real = [], squad.postprocess

    def spy(*args, **kw):
        calls.append((kw["null_score_diff_threshold"], real(*args, **kw)))
        return calls[-1][1]

    monkeypatch.setattr(squad, "postprocess", spy)
    model = tiny("question_answering", tok)
    _, metrics = train_eval(kind, model, tok, rows, split, "question_answering")
    assert set(metrics) == {"f1", "exact"} and all(0 <= v <= 100 for v in metrics.values())
    assert calls[0][0] == 0.0
    # SQuAD v1.1 rules (no null answer) are for tasks whose every question has an answer: score the two
    # answerable questions alone
    keep = [0, 2]
    v1_split = Split(np.arange(2), np.array([1, 1]), {k: [split[k][i] for i in keep] for k in split.fields})
    v1_rows = kind.encode(v1_split, tok, EncodingSettings(48, 12), "question_answering")
    kind.evaluate(model, tok, v1_rows, v1_split, CPU, "fp32", "question_answering", "f1", null_answers=False)
    assert calls[1][0] == math.inf and all(a.strip() for a in calls[1][1])


def test_opt_classification_pairs(opt_tok):
    tok, kind = opt_tok, KINDS["classification"]
    a, b = ["The cat sat.", "A dog ran.", "Big red tree."] * 2, ["A bird flew.", "Old city", "The fish swam."] * 2
    split = Split(np.arange(6), np.array([0, 1, 1, 0, 1, 0]), {"text_a": a, "text_b": b})
    rows = kind.encode(split, tok, EncodingSettings(64, 0), kind.head("opt"))
    assert rows.input_ids == [[2] + ids(tok, x) + ids(tok, y) for x, y in zip(a, b)]
    model = tiny("sequence_classification", tok, num_labels=2)
    dyn, metrics = train_eval(kind, model, tok, rows, split, "sequence_classification", batch_size=2)
    assert set(metrics) == {"accuracy"} and 0 <= metrics["accuracy"] <= 100
    np.testing.assert_array_equal(dyn.correct[0], dyn.logits[0].argmax(-1) == split.labels)
