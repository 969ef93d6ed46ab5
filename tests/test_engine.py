"""The engine's two levers: padding-free encoders (``hscore.engine.padding_free``) and the word-embedding
gradient kept in one buffer (``hscore.engine.embedding_grad``).

Both must leave the numbers alone: a padding-free model predicts what the padded one predicts (every
task kind; BERT, RoBERTa, XLM-R and ELECTRA), trains to the same correctness flags when dropout is off, and a run
with the buffered embedding gradient takes the same optimiser steps as one without."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import transformers
from transformers import (
    BertConfig,
    ElectraConfig,
    OPTConfig,
    OPTForSequenceClassification,
    RobertaConfig,
    XLMRobertaConfig,
)

from hscore.config import PhaseConfig
from hscore.data.packaged import load_rotten_tomatoes
from hscore.engine import embedding_grad, models, padding_free, train
from hscore.engine.batches import pad_batch
from hscore.engine.kinds import HEADS, EncodingSettings, get_kind
from test_train import _no_dropout

CPU = torch.device("cpu")


def _family(config_class, head, **kw):
    torch.manual_seed(0)
    config = config_class(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=160, pad_token_id=0, **kw)
    return getattr(transformers, HEADS[head]).from_config(config)


@pytest.fixture(scope="module")
def rt_rows(tiny_tokenizer):
    split = load_rotten_tomatoes(0)["train"].cap(24, 0)
    kind = get_kind("classification")
    return kind, kind.encode(split, tiny_tokenizer, EncodingSettings(48, 0), "sequence_classification")


def _batch(tokenizer, texts, options=None):
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    if options:
        enc = {k: v[None].expand(options, -1, -1).contiguous() for k, v in enc.items()}
    lengths = enc["attention_mask"].reshape(-1, enc["attention_mask"].shape[-1]).sum(-1)
    assert lengths.min() < lengths.max()  # the batch has padding to skip
    return enc


TEXTS = ["a short one", "this sentence is considerably longer than the first one, with many more words in it",
         "a middling sentence here", "ok"]


@pytest.mark.parametrize("config_class", [BertConfig, RobertaConfig, XLMRobertaConfig, ElectraConfig])
@pytest.mark.parametrize("head", ["sequence_classification", "question_answering", "multiple_choice"])
def test_padding_free_predicts_what_the_padded_model_predicts(tiny_tokenizer, config_class, head):
    enc = _batch(tiny_tokenizer, TEXTS, options=3 if head == "multiple_choice" else None)
    model = _family(config_class, head, **({"num_labels": 3} if head == "sequence_classification" else {})).eval()
    with torch.no_grad():
        padded = model(**enc)
        assert padding_free.enable(model) and padding_free.enable(model)  # idempotent
        assert model.config._attn_implementation == padding_free.ATTENTION
        unpadded = model(**enc)
    real = enc["attention_mask"].bool()
    for key in padded.keys():
        a, b = padded[key], unpadded[key]
        if head == "question_answering":  # per-token logits: the real tokens'; padding is the head's bias
            torch.testing.assert_close(a[real], b[real], rtol=1e-5, atol=1e-5)
            bias = model.qa_outputs.bias[0 if key == "start_logits" else 1]
            torch.testing.assert_close(b[~real], bias.expand(int((~real).sum())))
        else:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_padding_free_computes_on_real_tokens_only(tiny_tokenizer):
    enc = _batch(tiny_tokenizer, TEXTS)
    model = _family(BertConfig, "sequence_classification")
    padding_free.enable(model)
    rows = []
    model.base_model.encoder.layer[0].intermediate.register_forward_hook(lambda m, a, out: rows.append(out.shape))
    with torch.no_grad():
        model.eval()(**enc)
    assert rows == [torch.Size([1, int(enc["attention_mask"].sum()), 64])]
    # A batch without padding runs as usual.
    rows.clear()
    with torch.no_grad():
        model(input_ids=enc["input_ids"][:1, :5], attention_mask=torch.ones(1, 5, dtype=torch.long))
    assert rows == [torch.Size([1, 5, 64])]


def test_other_architectures_stay_padded():
    torch.manual_seed(0)
    config = OPTConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, ffn_dim=64,
                       word_embed_proj_dim=32, max_position_embeddings=64, pad_token_id=1)
    model = OPTForSequenceClassification(config)
    before = model.config._attn_implementation
    assert not padding_free.supported(model) and not padding_free.enable(model)
    assert model.config._attn_implementation == before


def _run(model, kind, tokenizer, rows, seed=3, epochs=2):
    hp = PhaseConfig(seeds=(seed,), epochs=epochs, lr=1e-3, batch_size=8)
    return train.fine_tune(model, kind, tokenizer, rows, hp, seed=seed, order=train.training_order(len(rows), seed),
                           device=CPU, num_logits=2)


def test_padding_free_training_matches_padded_without_dropout(tiny_tokenizer, rt_rows):
    kind, rows = rt_rows
    base = _no_dropout(models.load_model("random:tiny-bert", "sequence_classification", 2, 0,
                                         tiny_tokenizer.pad_token_id))
    padded, unpadded = copy.deepcopy(base), copy.deepcopy(base)
    assert padding_free.enable(unpadded)
    a, b = _run(padded, kind, tiny_tokenizer, rows), _run(unpadded, kind, tiny_tokenizer, rows)
    np.testing.assert_allclose(a.logits, b.logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(a.correct, b.correct)
    for p, q in zip(padded.parameters(), unpadded.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_padding_free_training_with_dropout_is_seeded(tiny_tokenizer, rt_rows):
    """Dropout draws differ from a padded run's, but a seed still fixes them."""
    kind, rows = rt_rows

    def run():
        model = models.load_model("random:tiny-bert", "sequence_classification", 2, 0, tiny_tokenizer.pad_token_id)
        padding_free.enable(model)
        return _run(model, kind, tiny_tokenizer, rows)

    np.testing.assert_array_equal(run().logits, run().logits)


def test_the_embedding_gradient_is_the_usual_one(tiny_tokenizer):
    enc = _batch(tiny_tokenizer, TEXTS)
    usual = _family(BertConfig, "sequence_classification")
    kept = copy.deepcopy(usual)
    embedding_grad.keep(kept.get_input_embeddings())
    embedding_grad.keep(kept.get_input_embeddings())  # idempotent
    labels = torch.tensor([0, 1, 1, 0])
    for accumulate in range(2):  # a second backward adds to the first, as gradient accumulation does
        for model in (usual, kept):
            torch.manual_seed(accumulate)  # the same dropout draws for both
            model(**enc, labels=labels).loss.backward()
        torch.testing.assert_close(kept.get_input_embeddings().weight.grad, usual.get_input_embeddings().weight.grad,
                                   rtol=1e-5, atol=1e-7)
    pad_row = kept.get_input_embeddings().weight.grad[tiny_tokenizer.pad_token_id]
    assert not pad_row.any()  # the padding row gets no gradient, as with F.embedding


def test_the_embedding_gradient_buffer_is_reused_across_steps(tiny_tokenizer):
    enc = _batch(tiny_tokenizer, TEXTS)
    model = _family(BertConfig, "sequence_classification")
    embedding_grad.keep(model.get_input_embeddings())
    weight = model.get_input_embeddings().weight
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    seen = []
    for _ in range(3):
        model(**enc, labels=torch.tensor([0, 1, 1, 0])).loss.backward()
        seen.append((weight.grad.data_ptr(), int((weight.grad != 0).any(-1).sum())))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        assert weight.grad is None
    assert len({ptr for ptr, _ in seen}) == 1
    used = len(set(enc["input_ids"][enc["attention_mask"].bool()].tolist()) - {tiny_tokenizer.pad_token_id})
    assert all(rows == used for _, rows in seen)  # zeroed between steps: only this batch's tokens
    with torch.no_grad():  # evaluation needs no gradient and builds no graph
        assert model(**enc).logits.grad_fn is None


def test_a_run_with_the_kept_gradient_takes_the_usual_steps(tiny_tokenizer, rt_rows, monkeypatch):
    kind, rows = rt_rows

    def run(keep):
        if not keep:
            monkeypatch.setattr(embedding_grad, "keep", lambda embedding: None)
        model = models.load_model("random:tiny-bert", "sequence_classification", 2, 0, tiny_tokenizer.pad_token_id)
        dyn = _run(model, kind, tiny_tokenizer, rows)
        monkeypatch.undo()
        return dyn, model

    (a, ma), (b, mb) = run(True), run(False)
    np.testing.assert_allclose(a.logits, b.logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(a.correct, b.correct)
    torch.testing.assert_close(ma.get_input_embeddings().weight, mb.get_input_embeddings().weight,
                               rtol=1e-5, atol=1e-6)


def test_pad_batch_masks_are_what_padding_free_packs(tiny_tokenizer, rt_rows):
    kind, rows = rt_rows
    batch = pad_batch(rows, np.arange(8), tiny_tokenizer, CPU)
    packing = padding_free.Packing.of(batch["attention_mask"])
    assert len(packing.index) == sum(len(rows.input_ids[i]) for i in range(8))
    x = torch.arange(batch["input_ids"].numel(), dtype=torch.float32).view(*batch["input_ids"].shape, 1)
    back = packing.unpack(packing.pack(x))
    mask = batch["attention_mask"].bool()[..., None]
    torch.testing.assert_close(back, torch.where(mask, x, torch.zeros_like(x)))


def test_a_finished_run_leaves_nothing_of_its_model_alive(tiny_config):
    """Reference cycles would keep a finished run's modules (and their gradient buffers) until the
    cyclic collector ran: with it off, everything of a phase-2 run dies when the step's run returns."""
    import gc
    import weakref

    from hscore.engine.prepared import prepare
    from hscore.study import steps

    data = prepare(tiny_config())
    made = []
    fresh = data.fresh_model

    def tracked(seed, unpadded=None):
        model, flag = fresh(seed, unpadded)
        made.append([weakref.ref(m) for m in model.modules()])
        return model, flag

    data.fresh_model = tracked
    gc.collect()
    gc.disable()
    try:
        for seed in (1, 2):
            steps._fine_tune_run(data, np.arange(len(data.train)), "phase2", seed, CPU, False, "run", None)
        alive = [ref() for refs in made for ref in refs if ref() is not None]
    finally:
        gc.enable()
    assert len(made) == 2 and all(len(refs) > 10 for refs in made)
    assert not alive, f"still alive after their runs: {sorted({type(m).__name__ for m in alive})}"


def test_keeping_the_embedding_gradient_makes_no_reference_cycle():
    import gc
    import weakref

    model = _family(BertConfig, "sequence_classification")
    embedding_grad.keep(model.get_input_embeddings())
    ref = weakref.ref(model.get_input_embeddings())
    gc.collect()
    gc.disable()
    try:
        del model
        assert ref() is None
    finally:
        gc.enable()
