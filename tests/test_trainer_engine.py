"""``engine: trainer``: the study's runs fine-tuned by the Hugging Face Trainer with hscore's recorder.

The Trainer route keeps the built-in loop's order, seeds, optimiser, schedule, clipping, loss and batches,
so on the same machine it must give the loop's numbers exactly: the same recorded dynamics (correct flags,
gold probabilities, logits: dropout on, the same masks) and the same trained weights, for every task kind,
with gradient accumulation, warmup and clipping. The setting is part of a run's identity (a changed engine
makes a run stale) and leaves the identity of the loop's runs as it was."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from hscore import config, paths
from hscore.engine.prepared import prepare
from hscore.engine.train import fine_tune, subset_order, training_order
from hscore.engine.trainer_route import fine_tune_trainer
from hscore.errors import ConfigError, DivergenceError, NonFiniteLossError
from hscore.study import executors, plan
from hscore.study.plan import run_settings
from hscore.study.run import Board

FIELDS = ("example_id", "feature", "label", "target", "order", "correct", "gold_prob", "logits")


def _both_engines(cfg, seed=5, phase="phase1", rows=None, eval_pass=None):
    """The same run through ``fine_tune`` and ``fine_tune_trainer``: (dynamics, weights) of each."""
    data = prepare(cfg)
    hp = cfg.phase1 if phase == "phase1" else cfg.phase2
    rows = np.arange(len(data.train)) if rows is None else rows
    train = data.train.take(rows)
    out = {}
    for name, fn in (("loop", fine_tune), ("trainer", fine_tune_trainer)):
        model, _ = data.fresh_model(seed)
        order = subset_order(len(data.train), rows, seed)
        dyn = fn(model, data.kind, data.tokenizer, train, hp, seed=seed, order=order,
                 device=torch.device("cpu"), record=phase == "phase1", num_logits=data.num_logits, desc=name,
                 eval_pass=eval_pass)
        out[name] = dyn, {k: v.detach().clone() for k, v in model.state_dict().items()}
    return out, data


@pytest.mark.parametrize("task, changes", [
    ("rotten_tomatoes", {}),
    ("rotten_tomatoes", {"grad_accum": 3, "warmup_ratio": 0.25, "max_grad_norm": 0.05, "weight_decay": 0.01}),
    ("squad_dev", {"grad_accum": 2}),
    ("social_iqa", {}),
], ids=["classification", "accumulation-warmup-clipping", "extractive_qa", "multiple_choice"])
def test_the_trainer_route_gives_the_loops_dynamics_and_weights(tiny_config, task, changes):
    base = tiny_config(task=task, max_length=96 if task == "squad_dev" else 32, doc_stride=32)
    cfg = dataclasses.replace(base, phase1=dataclasses.replace(base.phase1, **changes))
    out, data = _both_engines(cfg)
    (loop, loop_weights), (trainer, trainer_weights) = out["loop"], out["trainer"]
    for name in FIELDS:
        a, b = getattr(loop, name), getattr(trainer, name)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name
    assert loop.correct.shape == (cfg.phase1.epochs, len(data.train)) and loop.logits.shape[-1] == data.num_logits
    assert (loop.gold_prob[0] != loop.gold_prob[-1]).any()   # the predictions moved between epochs
    if task != "squad_dev":   # (a random 64-wide BERT finds no answer span in two epochs)
        assert 0 < loop.correct.mean() < 1                   # the runs learned something, not everything
    assert all(torch.equal(loop_weights[k], trainer_weights[k]) for k in loop_weights)
    fresh, _ = data.fresh_model(5)
    assert not all(torch.equal(fresh.state_dict()[k], loop_weights[k]) for k in loop_weights)   # it trained


def test_the_trainer_route_records_the_loops_eval_pass(tiny_config):
    """EL2N's eval pass at the end of epoch 1 (``el2n_epoch``): the same logits through both engines."""
    out, data = _both_engines(tiny_config(), eval_pass=1)
    (loop, _), (trainer, _) = out["loop"], out["trainer"]
    assert loop.eval_logits.shape == (len(data.train), data.num_logits)
    assert np.array_equal(loop.eval_logits, trainer.eval_logits) and np.array_equal(loop.correct, trainer.correct)


def test_a_phase_two_run_on_a_subset_trains_the_same_model(tiny_config):
    cfg = tiny_config()
    rows = np.arange(0, 40, 3)
    out, _ = _both_engines(cfg, seed=7, phase="phase2", rows=rows)
    assert out["loop"][0] is None and out["trainer"][0] is None
    assert all(torch.equal(out["loop"][1][k], out["trainer"][1][k]) for k in out["loop"][1])


def test_a_diverging_trainer_run_stops_with_the_loops_advice(tiny_config):
    cfg = tiny_config()
    data = prepare(cfg)
    model, _ = data.fresh_model(1)
    hp = dataclasses.replace(cfg.phase1, lr=1e3, max_grad_norm=0.0)
    with pytest.raises((DivergenceError, NonFiniteLossError), match="Lower the learning rate"):
        fine_tune_trainer(model, data.kind, data.tokenizer, data.train, hp, seed=1,
                          order=training_order(len(data.train), 1), device=torch.device("cpu"),
                          num_logits=data.num_logits, desc="lr 1e3")


def test_the_engine_setting_is_validated_and_part_of_a_runs_identity(study, tiny_config, study_file):
    cfg = tiny_config()
    assert cfg.engine == "loop" and "engine" not in run_settings(cfg, "phase1", 1)   # the loop's identity as before
    trainer = dataclasses.replace(cfg, engine="trainer")
    assert run_settings(trainer, "phase1", 1) == {**run_settings(cfg, "phase1", 1), "engine": "trainer"}
    assert run_settings(trainer, "phase2", 1)["engine"] == "trainer"
    with pytest.raises(ConfigError, match=r"engine = 'hf': must be one of \['loop', 'trainer'\]"):
        dataclasses.replace(cfg, engine="hf")
    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(engine="torch"))
    with pytest.raises(ConfigError, match=r"profiles.tiny.settings.engine = 'torch': must be one of"):
        config.pair_config("tiny", "tiny-bert", "rotten_tomatoes")


def _files(root, suffixes=(".npz", ".parquet", ".json")):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in suffixes and p.name not in ("step.json", "plan.json")
            and "tables" not in p.parts}


def test_the_tiny_profile_through_the_trainer_writes_the_loops_files(study_file, results_dir, monkeypatch, tmp_path):
    """The whole plan (scoring, selection, every phase-2 run) with ``engine: trainer``: every dynamics,
    prediction, metrics, scores and subsets file is byte-identical to the loop's; switching the engine
    afterwards makes every fine-tuning run stale, naming the setting."""
    study_file()
    executors.run(plan.build("tiny"))
    loop = _files(results_dir / "tiny")
    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(engine="trainer"))
    built = plan.build("tiny")
    runs = Board(built).runs()
    scoring = [r for r in runs if r.step.stage == "score"]
    assert scoring and all(r.state == "stale" and "engine: '(absent)' -> 'trainer'" in r.problem for r in scoring)
    assert all(r.state == "waiting" for r in runs if r.step.stage == "finetune")   # their subsets come from those
    monkeypatch.setenv("HSCORE_RESULTS_DIR", str(tmp_path / "trainer"))
    executors.run(plan.build("tiny"))
    assert _files(tmp_path / "trainer" / "tiny") == loop and len(loop) > 30
    cfg = built.configs[0]   # its results_dir follows HSCORE_RESULTS_DIR: the trainer's now
    step = json.loads((paths.phase1_run_dir(cfg.results_dir, 0) / "step.json").read_text())
    assert step["engine"] == "trainer" and step["identity"]["engine"] == "trainer"


@pytest.mark.slow
def test_the_smoke_profile_runs_end_to_end_with_engine_trainer(study_file, results_dir):
    """Every kind of the smoke profile (classification, sentence pairs, extractive QA, multiple choice),
    every step, through the Trainer."""
    study_file(lambda d: d["profiles"]["smoke"]["settings"].update(engine="trainer"))
    built = plan.build("smoke")
    outcome = executors.run(built)
    runs = Board(built).runs()
    assert all(r.done for r in runs), [r.describe() for r in runs if not r.done]
    assert len(outcome.trained) == sum(s.stage in ("score", "finetune") for s in built.steps)
    for cfg in built.configs:
        for r in range(cfg.runs):
            step = json.loads((paths.phase1_run_dir(cfg.results_dir, r) / "step.json").read_text())
            assert step["engine"] == "trainer" and step["identity"]["engine"] == "trainer"
