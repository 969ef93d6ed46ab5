"""The fine-tuning loop: what it records, for which example, in which order; determinism; prediction order."""

import copy

import numpy as np
import pytest
import torch

from hscore import metrics, models, tasks, train
from hscore.errors import NonFiniteLossError

CPU = torch.device("cpu")
BATCH = 8  # 20 examples -> batches of 8, 8 and 4


@pytest.fixture(scope="module")
def rt_train():
    return tasks.load_rotten_tomatoes(0)["train"].cap(20, 0)


@pytest.fixture(scope="module")
def encoded(rt_train, tiny_tokenizer):
    return train.encode(rt_train, tiny_tokenizer, 32)


def _model(tokenizer, num_labels=2, seed=0):
    return models.load_model("random:tiny-bert", num_labels, seed, tokenizer.pad_token_id)


def _no_dropout(model):
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


@torch.no_grad()
def _alone(model, data):
    """Eval-mode logits of each example, one at a time and unpadded."""
    model.eval()
    rows = []
    for i in range(len(data)):
        inputs = {"input_ids": torch.tensor([data.input_ids[i]])}
        if data.token_type_ids is not None:
            inputs["token_type_ids"] = torch.tensor([data.token_type_ids[i]])
        rows.append(model(**inputs).logits[0].numpy())
    return np.stack(rows)


def _tune(tokenizer, data, seed=11, model_seed=0, **kwargs):
    args = dict(epochs=2, lr=1e-4, batch_size=BATCH, seed=seed, device=CPU)
    return train.fine_tune(_model(tokenizer, seed=model_seed), tokenizer, data, **{**args, **kwargs})


def test_encode_keeps_ids_labels_and_truncates(rt_train, encoded):
    assert len(encoded) == 20
    np.testing.assert_array_equal(encoded.ids, rt_train.ids)
    np.testing.assert_array_equal(encoded.labels, rt_train.labels)
    assert max(len(s) for s in encoded.input_ids) == 32 and min(len(s) for s in encoded.input_ids) < 32


def test_recorded_correct_and_gold_prob_follow_the_logits(tiny_tokenizer, encoded):
    dyn = _tune(tiny_tokenizer, encoded)
    e, n, c = dyn.logits.shape
    assert (e, n, c) == (2, 20, 2)
    assert dyn.correct.shape == dyn.gold_prob.shape == (2, 20) and dyn.correct.dtype == bool
    np.testing.assert_array_equal(dyn.example_id, encoded.ids)
    np.testing.assert_array_equal(dyn.label, encoded.labels)
    np.testing.assert_array_equal(dyn.correct, dyn.logits.argmax(-1) == encoded.labels[None, :])
    z = dyn.logits.astype(np.float64)
    softmax = np.exp(z - z.max(-1, keepdims=True))
    softmax /= softmax.sum(-1, keepdims=True)
    gold = np.array([[softmax[ep, i, encoded.labels[i]] for i in range(n)] for ep in range(e)])
    np.testing.assert_allclose(dyn.gold_prob, gold, atol=1e-6)
    assert np.all(dyn.logits != 0)  # every example was recorded in every epoch


def test_recorded_logits_belong_to_their_example(tiny_tokenizer, encoded):
    """With a negligible learning rate and no dropout, each recorded row is that example's own forward pass."""
    model = _no_dropout(_model(tiny_tokenizer))
    with torch.no_grad():  # spread the near-identical logits of a random model so that rows are told apart
        model.classifier.weight.mul_(1e4)
    reference = _alone(copy.deepcopy(model), encoded)
    gaps = np.abs(reference[:, None] - reference[None]).max(-1) + np.diag([np.inf] * len(encoded))
    assert gaps.min() > 0.05  # distinct examples give distinguishable logits
    dyn = train.fine_tune(model, tiny_tokenizer, encoded, epochs=2, lr=1e-12, batch_size=BATCH, seed=5, device=CPU)
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
    dyn = _tune(tiny_tokenizer, encoded, seed=11, epochs=1)
    expected = torch.randperm(20, generator=torch.Generator().manual_seed(11)).tolist()
    assert dyn.order.tolist() == expected
    assert train.training_order(20, 11).tolist() == expected


def test_batches_follow_the_order_in_every_epoch(tiny_tokenizer, encoded):
    by_tokens = {tuple(s): p for p, s in enumerate(encoded.input_ids)}
    assert len(by_tokens) == len(encoded)
    seen = []

    def capture(module, args, kwargs):
        for ids, mask in zip(kwargs["input_ids"], kwargs["attention_mask"]):
            seen.append(by_tokens[tuple(ids[mask.bool()].tolist())])

    model = _model(tiny_tokenizer)
    model.register_forward_pre_hook(capture, with_kwargs=True)
    dyn = train.fine_tune(model, tiny_tokenizer, encoded, epochs=3, lr=1e-4, batch_size=BATCH, seed=21, device=CPU)
    expected = torch.randperm(20, generator=torch.Generator().manual_seed(21)).tolist()
    assert seen == expected * 3
    assert dyn.order.tolist() == expected


def test_no_recording(tiny_tokenizer, encoded):
    assert _tune(tiny_tokenizer, encoded, record=False) is None


def test_nan_loss_raises(tiny_tokenizer, encoded):
    model = _model(tiny_tokenizer)
    with torch.no_grad():
        model.classifier.weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match="epoch 1"):
        train.fine_tune(model, tiny_tokenizer, encoded, epochs=2, lr=1e-4, batch_size=BATCH, seed=1, device=CPU)


def test_exploding_learning_rate_raises(tiny_tokenizer, encoded):
    with pytest.raises(NonFiniteLossError):
        _tune(tiny_tokenizer, encoded, lr=1e30, epochs=3)


@pytest.fixture(scope="module")
def rt_eval(tiny_tokenizer):
    splits = tasks.load_splits(tasks.get_task("rotten_tomatoes"), 8, 30, 0)
    return train.encode(splits["validation"], tiny_tokenizer, 48)


def _diverse_model(tokenizer, data):
    """A random model whose bias is centred on this data, so that its predictions vary."""
    model = _model(tokenizer, seed=3)
    with torch.no_grad():
        model.classifier.bias -= torch.from_numpy(_alone(model, data).mean(0))
    return model


def test_predict_returns_predictions_in_data_order(tiny_tokenizer, rt_eval):
    lengths = [len(s) for s in rt_eval.input_ids]
    assert lengths != sorted(lengths)  # batching by length really reorders the examples
    model = _diverse_model(tiny_tokenizer, rt_eval)
    expected = _alone(model, rt_eval).argmax(-1)
    assert 5 <= expected.sum() <= 25  # both classes predicted
    for batch_size in (4, 7, 128):
        np.testing.assert_array_equal(train.predict(model, tiny_tokenizer, rt_eval, CPU, batch_size=batch_size),
                                      expected)
    assert not model.training


def test_evaluate_scores_each_split(tiny_tokenizer, rt_eval):
    model = _diverse_model(tiny_tokenizer, rt_eval)
    expected = _alone(model, rt_eval).argmax(-1)
    half = train.Encoded(rt_eval.input_ids[:15], rt_eval.token_type_ids[:15], rt_eval.labels[:15],
                         rt_eval.ids[:15])
    scores = train.evaluate(model, tiny_tokenizer, {"all": rt_eval, "half": half}, metrics.accuracy, CPU)
    assert list(scores) == ["all", "half"]
    assert scores["all"] == pytest.approx(100 * np.mean(expected == rt_eval.labels))
    assert scores["half"] == pytest.approx(100 * np.mean(expected[:15] == rt_eval.labels[:15]))
