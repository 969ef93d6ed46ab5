"""The CUDA path (``pytest -m cuda``; ``make gpu-check`` runs these first): mixed precision with its
scaler, padding-free encoders, recording and evaluation on the device, a GPU per worker, and the memory
that recording costs. Every test is skipped, with the reason, where torch sees no CUDA GPU."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import torch

from hscore import config
from hscore.data.packaged import load_rotten_tomatoes
from hscore.engine import models, padding_free, train
from hscore.engine.batches import predict_logits
from hscore.engine.kinds import EncodingSettings, get_kind
from hscore.engine.prepared import prepare
from test_train import _hp, _no_dropout

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="needs a CUDA GPU (torch.cuda.is_available() is False)")]

CUDA, CPU = torch.device("cuda"), torch.device("cpu")
KIND = get_kind("classification")
HEAD = "sequence_classification"


@pytest.fixture(scope="module")
def rows(tiny_tokenizer):
    split = load_rotten_tomatoes(0)["train"].cap(48, 0)
    return KIND.encode(split, tiny_tokenizer, EncodingSettings(32, 0), HEAD)


def _model(tokenizer, seed=0):
    return models.load_model("random:tiny-bert", HEAD, 2, seed, tokenizer.pad_token_id)


def _tune(model, tokenizer, data, device, precision="fp32", seed=5, record=True, **hp):
    return train.fine_tune(model, KIND, tokenizer, data, _hp(**hp), seed=seed,
                           order=train.training_order(len(data), seed), device=device, precision=precision,
                           record=record, num_logits=2)


def test_fp16_unscales_before_clipping(tiny_tokenizer, rows, monkeypatch):
    """The clipped gradient is the true one: the scaler (initial scale 65536) unscaled it first."""
    norms, real = [], torch.nn.utils.clip_grad_norm_

    def clip(parameters, max_norm, *args, **kwargs):
        norm = real(parameters, max_norm, *args, **kwargs)
        norms.append(float(norm))
        return norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    _tune(_model(tiny_tokenizer), tiny_tokenizer, rows, CUDA, "fp16", epochs=1, max_grad_norm=1.0)
    finite = [n for n in norms if np.isfinite(n)]
    assert finite and max(finite) < 1000.0, norms   # a scaled gradient's norm is ~65536 times larger


def test_fp16_skips_the_update_of_an_overflowed_step(tiny_tokenizer, rows):
    """An infinite gradient in fp16: the scaler skips that update, so the weights stay as they were."""
    batch = rows.take(range(8))   # one micro-batch: one update
    model = _no_dropout(_model(tiny_tokenizer))
    before = copy.deepcopy(model).to(CUDA)
    model.classifier.weight.register_hook(lambda g: torch.full_like(g, float("inf")))
    _tune(model, tiny_tokenizer, batch, CUDA, "fp16", epochs=1, batch_size=8)
    for p, q in zip(model.parameters(), before.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    normal = _no_dropout(_model(tiny_tokenizer))
    _tune(normal, tiny_tokenizer, batch, CUDA, "fp16", epochs=1, batch_size=8)
    assert any(not torch.equal(p, q) for p, q in zip(normal.parameters(), before.parameters()))


def test_bf16_autocast_computes_the_linear_layers_in_bf16(tiny_tokenizer, rows):
    dtypes = set()
    model = _model(tiny_tokenizer)
    model.classifier.register_forward_hook(lambda module, args, out: dtypes.add(out.dtype))
    dynamics = _tune(model, tiny_tokenizer, rows, CUDA, "bf16", epochs=1)
    assert dtypes == {torch.bfloat16}
    assert np.isfinite(dynamics.logits).all() and np.isfinite(dynamics.gold_prob).all()


def test_padding_free_predicts_what_the_padded_model_predicts_on_cuda(tiny_tokenizer, rows):
    padded = _model(tiny_tokenizer)
    unpadded = copy.deepcopy(padded)
    assert padding_free.enable(unpadded)
    a = predict_logits(padded, tiny_tokenizer, rows, CUDA, "fp32")
    b = predict_logits(unpadded, tiny_tokenizer, rows, CUDA, "fp32")
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(a.argmax(1), b.argmax(1))


def test_recording_on_cuda_gives_the_cpu_flags_without_dropout(tiny_tokenizer, rows):
    """Same seed, order and initial weights, no dropout, fp32: the flags recorded on the GPU are the
    CPU's, except where an example's two logits are closer than the two devices' rounding."""
    base = _no_dropout(_model(tiny_tokenizer))
    on_cpu = _tune(copy.deepcopy(base), tiny_tokenizer, rows, CPU, lr=1e-3)
    on_cuda = _tune(copy.deepcopy(base), tiny_tokenizer, rows, CUDA, lr=1e-3)
    np.testing.assert_allclose(on_cuda.logits, on_cpu.logits, rtol=1e-3, atol=1e-3)
    margin = np.abs(on_cpu.logits[..., 0] - on_cpu.logits[..., 1])
    differ = on_cuda.correct != on_cpu.correct
    assert not (differ & (margin > 1e-3)).any()
    assert differ.mean() <= 0.02


def test_evaluation_runs_on_the_device(tiny_tokenizer, rows):
    seen = set()
    model = _model(tiny_tokenizer)
    model.register_forward_pre_hook(lambda module, args, kwargs: seen.add(kwargs["input_ids"].device.type),
                                    with_kwargs=True)
    on_cuda = predict_logits(model, tiny_tokenizer, rows, CUDA, "fp32")
    assert seen == {"cuda"} and next(model.parameters()).device.type == "cuda"
    np.testing.assert_allclose(on_cuda, predict_logits(model, tiny_tokenizer, rows, CPU, "fp32"), atol=1e-4)


@pytest.mark.slow
def test_each_worker_trains_on_its_gpu(study_file):
    """``--jobs 2``: two worker processes, each given a GPU (round robin over the visible ones), and
    every scoring run records that it ran on CUDA."""
    from hscore.__main__ import main
    from hscore.study import plan
    from hscore.study.executors.pool import visible_gpus

    study_file()
    assert main(["run", "--profile", "tiny", "--jobs", "2", "--stage", "score"]) == 0
    built = plan.build("tiny", check_writable=False)
    records = [json.loads((s.folder / "step.json").read_text()) for s in built.steps if s.stage == "score"]
    assert records and all(r["device"].startswith("cuda") for r in records)
    assert {r["worker"]["executor"] for r in records} == {"local-jobs"}
    assert len({r["worker"]["pid"] for r in records}) == 2 and visible_gpus()


def test_recording_a_qa_scoring_run_costs_only_its_buffers(tiny_tokenizer, capsys):
    """Peak GPU memory of a QA scoring run with and without recording (the SQuAD cut of
    tests/fixtures): recording adds about its buffers (epochs x windows x (flag, gold probability, and
    logits where the kind records them)), allocated on the device once, not a copy per step."""
    cfg = dataclasses.replace(config.pair_config("smoke", "minilm", "squad_dev_sample"), model="tiny-bert",
                              checkpoint="random:tiny-bert", train_cap=24, max_length=96, doc_stride=32)
    data = prepare(cfg)
    hp = dataclasses.replace(cfg.phase1, epochs=2, batch_size=8)

    def peak(record: bool) -> int:
        model, _ = data.fresh_model(1)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        train.fine_tune(model, data.kind, data.tokenizer, data.train, hp, seed=1,
                        order=train.training_order(len(data.train), 1), device=CUDA, precision="fp32",
                        record=record, num_logits=data.num_logits)
        torch.cuda.synchronize()
        used = torch.cuda.max_memory_allocated() - start
        del model
        torch.cuda.empty_cache()
        return used

    without, with_recording = peak(False), peak(True)
    buffers = hp.epochs * len(data.train) * (1 + 4 + 4 * data.num_logits)
    with capsys.disabled():
        print(f"\nQA scoring run, {len(data.train)} windows x {hp.epochs} epochs: peak "
              f"{with_recording / 2**20:.1f} MiB recording, {without / 2**20:.1f} MiB not; "
              f"recording buffers {buffers / 2**10:.1f} KiB")
    assert with_recording - without <= 2 * buffers + 2 ** 20
