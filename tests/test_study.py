"""One model-task pair end to end with the tiny model: layout, scores, resume, staleness, guards."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from hscore import models, study, subsets
from hscore.errors import EmptySubsetError, GPURequiredError, LabelCountError, StaleResultError


def _pair(cfg, results_dir):
    pair = cfg.results_dir
    assert pair == results_dir / cfg.profile / cfg.model / cfg.task  # HSCORE_RESULTS_DIR is honoured
    return pair


def _stacked_correct(pair, runs):
    arrays = []
    for r in range(runs):
        with np.load(pair / "phase1" / f"run-{r}" / "dynamics.npz") as f:
            arrays.append(f["correct"])
    return np.stack(arrays)


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def counted_fine_tune(monkeypatch):
    """Count the fine-tuning runs the study starts (the real loop still runs)."""
    calls = []
    real = study.fine_tune

    def counting(*args, **kwargs):
        calls.append(kwargs["seed"])
        return real(*args, **kwargs)

    monkeypatch.setattr(study, "fine_tune", counting)
    return calls


def test_run_pair_writes_the_documented_layout(tiny_config, results_dir):
    cfg = tiny_config()
    table = study.run_pair(cfg)
    pair = _pair(cfg, results_dir)

    for r, seed in enumerate(cfg.phase1.seeds):
        run = pair / "phase1" / f"run-{r}"
        assert sorted(p.name for p in run.iterdir()) == ["dynamics.npz", "step.json"]
        step = json.loads((run / "step.json").read_text())
        assert step["seed"] == seed and step["run"] == r and step["identity"]["lr"] == cfg.phase1.lr
        with np.load(run / "dynamics.npz") as f:
            assert set(f.files) == {"example_id", "label", "order", "correct", "gold_prob", "logits"}
            assert f["correct"].shape == (cfg.phase1.epochs, 40) and f["logits"].shape == (cfg.phase1.epochs, 40, 2)
            assert f["order"].tolist() == torch.randperm(40, generator=torch.Generator().manual_seed(seed)).tolist()

    manifest = json.loads((pair / "manifest.json").read_text())
    assert manifest["config"] == json.loads(json.dumps(cfg.to_dict()))
    assert {"python", "hscore", "torch", "transformers", "numpy", "pandas"} <= set(manifest["versions"])
    assert set(manifest["stages"]) == {"phase1", "phase2"}
    assert [run["seed"] for run in manifest["stages"]["phase1"]["runs"]] == list(cfg.phase1.seeds)

    scores = pd.read_parquet(pair / "scores.parquet")
    assert len(scores) == 40 and scores["example_id"].is_unique
    correct = _stacked_correct(pair, cfg.runs)                           # [R, E, N]
    h_by_hand = np.prod(correct, axis=1).sum(axis=0)                      # sum over runs of prod over epochs
    np.testing.assert_array_equal(scores["h"].to_numpy(), h_by_hand)
    np.testing.assert_allclose(scores["success_rate"], h_by_hand / cfg.runs)

    # Subsets: the H-score family by hand from the table, and size-matched baselines.
    with np.load(pair / "subsets.npz") as f:
        saved = {k.replace("|", "/"): f[k] for k in f.files}
    info = json.loads((pair / "subsets.json").read_text())
    assert info["n_full"] == 40
    h = scores["h"].to_numpy()
    for spec in subsets.subset_family(cfg.runs):
        chosen = saved[f"hscore/{spec.name}"]
        assert chosen.tolist() == [i for i in range(40) if h[i] in spec.kept]
        assert len(saved[f"ambiguous/{spec.name}"]) == len(saved[f"random/{spec.name}/7"]) == len(chosen)
    ticket = info["subsets"][0]
    assert ticket["winning ticket"] and ticket["subset"] == "remove-0-3"
    assert ticket["size"] == int(np.sum((h >= 1) & (h <= 2))) > 0

    # Phase 2: the full set and every non-empty subset with each method, one row per run and eval split.
    phase2 = pd.read_parquet(pair / "phase2.parquet")
    pd.testing.assert_frame_equal(phase2.reset_index(drop=True), table.reset_index(drop=True), check_dtype=False)
    expected_runs = {("full", "full")} | {(m, s.name) for s in subsets.subset_family(cfg.runs)
                                         for m in ("hscore", "random", "ambiguous")
                                         if len(saved[f"hscore/{s.name}"])}
    assert set(zip(phase2["method"], phase2["subset"])) == expected_runs
    assert len(phase2) == len(expected_runs) and set(phase2["split"]) == {"validation"}
    for row in phase2.itertuples():
        expected_size = 40 if row.method == "full" else len(saved[f"hscore/{row.subset}"])
        assert row.size == expected_size and row.seed == 7
        folder = pair / "phase2" / f"{row.method}--{row.subset}--7"
        assert sorted(p.name for p in folder.iterdir()) == ["metrics.json", "step.json"]
    assert ((phase2["score"] >= 0) & (phase2["score"] <= 100)).all()


def test_resume_after_a_kill_redoes_only_the_unfinished_run(tiny_config, results_dir, counted_fine_tune):
    cfg = tiny_config()
    first = study.run_phase1(cfg)
    assert counted_fine_tune == [1, 2, 3]
    last = _pair(cfg, results_dir) / "phase1" / "run-2"
    (last / "step.json").unlink()  # killed after writing the dynamics, before marking the run finished

    counted_fine_tune.clear()
    again = study.run_phase1(cfg)
    assert counted_fine_tune == [3]
    assert (last / "step.json").exists()
    np.testing.assert_array_equal(again.correct, first.correct)  # deterministic on the CPU
    np.testing.assert_array_equal(again.gold_prob, first.gold_prob)


def test_rerun_of_a_finished_phase1_trains_nothing(tiny_config, results_dir, counted_fine_tune):
    cfg = tiny_config()
    study.run_phase1(cfg)
    counted_fine_tune.clear()
    dyn = study.run_phase1(cfg)
    assert counted_fine_tune == []
    assert dyn.seeds == cfg.phase1.seeds and dyn.correct.shape == (3, 2, 40)


def test_changed_lr_is_stale_and_keeps_the_old_results(tiny_config, results_dir, counted_fine_tune):
    cfg = tiny_config()
    study.run_phase1(cfg)
    pair = _pair(cfg, results_dir)
    before = _snapshot(pair)
    counted_fine_tune.clear()
    changed = dataclasses.replace(cfg, phase1=dataclasses.replace(cfg.phase1, lr=3e-4))
    with pytest.raises(StaleResultError, match="run-0"):
        study.run_phase1(changed)
    assert counted_fine_tune == []
    assert _snapshot(pair) == before


def test_gpu_required_without_cuda(tiny_config, results_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = tiny_config(require_gpu=True)
    with pytest.raises(GPURequiredError, match="HSCORE_ALLOW_CPU=1"):
        study.run_phase1(cfg)
    assert not (results_dir / cfg.profile).exists()

    monkeypatch.setenv("HSCORE_ALLOW_CPU", "1")
    dyn = study.run_phase1(cfg)
    assert dyn.runs == 3
    step = json.loads((cfg.results_dir / "phase1" / "run-0" / "step.json").read_text())
    assert step["device"].startswith("cpu")


def test_gpu_not_required_runs_on_cpu(tiny_config, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    from hscore.device import pick_device

    assert pick_device(False) == torch.device("cpu")
    monkeypatch.setenv("HSCORE_ALLOW_CPU", "0")
    with pytest.raises(GPURequiredError):
        pick_device(True)


def test_label_count_mismatch(tmp_path, tiny_tokenizer):
    folder = tmp_path / "three-label-bert"
    head = BertConfig(vocab_size=tiny_tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=64, num_labels=3)
    BertForSequenceClassification(head).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    with pytest.raises(LabelCountError, match="3 labels.*has 2"):
        models.load_model(str(folder), num_labels=2, seed=0, pad_token_id=tiny_tokenizer.pad_token_id)
    model = models.load_model(str(folder), num_labels=3, seed=0, pad_token_id=tiny_tokenizer.pad_token_id)
    assert model.config.num_labels == 3 and model.classifier.out_features == 3


def _scores(h, variability=None):
    h = np.asarray(h)
    var = np.linspace(0, 1, len(h)) if variability is None else np.asarray(variability)
    return pd.DataFrame({"example_id": np.arange(len(h)), "h": h, "variability": var})


def test_empty_winning_ticket_raises(tiny_config):
    cfg = tiny_config()  # R = 3
    with pytest.raises(EmptySubsetError, match="winning ticket is empty"):
        study.compute_subsets(cfg, _scores([0, 3, 3, 0, 3, 0]))
    assert not study.paths.subsets_files(cfg.results_dir)[0].exists()


def test_compute_subsets_by_hand(tiny_config):
    cfg = tiny_config()  # R = 3, phase-2 seed 7
    h = [0, 3, 1, 2, 1, 3, 0, 2]
    var = [0.9, 0.1, 0.2, 0.8, 0.3, 0.0, 0.7, 0.4]
    result = study.compute_subsets(cfg, _scores(h, var))
    assert result.winning_ticket.kept == (1, 2)
    assert result.indices["hscore/remove-0-3"].tolist() == [2, 3, 4, 7]
    assert result.indices["hscore/remove-0-1-3"].tolist() == [3, 7]
    assert result.indices["hscore/remove-0-2-3"].tolist() == [2, 4]
    # Ambiguous: the 4 (resp. 2) most variable: 0.9, 0.8, 0.7, 0.4 (resp. 0.9, 0.8).
    assert result.indices["ambiguous/remove-0-3"].tolist() == [0, 3, 6, 7]
    assert result.indices["ambiguous/remove-0-1-3"].tolist() == [0, 3]
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(7)).tolist()
    assert result.indices["random/remove-0-3/7"].tolist() == sorted(perm[:4])
    assert result.size(result.winning_ticket) == 4
    table = result.table()
    assert table["size"].tolist() == [4, 2, 2] and table["% of full"].tolist() == [50.0, 25.0, 25.0]
