"""One model-task pair end to end with the tiny model: layout, scores, resume, staleness, guards."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from hscore import config, models, results, selection, study, subsets, tasks
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
        assert sorted(p.name for p in run.iterdir()) == ["dynamics.npz", "predictions.npz", "step.json"]
        step = json.loads((run / "step.json").read_text())
        with np.load(run / "predictions.npz") as f:   # per validation example: what the accuracy comes from
            assert f["validation|example_id"].tolist() == study.prepared(cfg).splits["validation"].ids.tolist()
            assert 100 * np.mean(f["validation|prediction"] == f["validation|label"]) == pytest.approx(
                step["eval"]["validation"]["accuracy"])
        assert step["seed"] == seed and step["run"] == r and step["identity"]["lr"] == cfg.phase1.lr
        assert step["identity"]["padding_free"] is True and step["padding_free"] is True  # asked for, and applied
        assert set(step["eval"]) == {"validation"} and set(step["eval"]["validation"]) == {"accuracy"}
        with np.load(run / "dynamics.npz") as f:
            assert set(f.files) == {"example_id", "feature", "label", "target", "order", "correct", "gold_prob",
                                    "logits"}
            assert f["correct"].shape == (cfg.phase1.epochs, 40) and f["logits"].shape == (cfg.phase1.epochs, 40, 2)
            assert f["order"].tolist() == torch.randperm(40, generator=torch.Generator().manual_seed(seed)).tolist()
            assert f["feature"].tolist() == [0] * 40                  # one row per example
            np.testing.assert_array_equal(f["target"], f["label"])    # classification: the target is the class
            np.testing.assert_array_equal(f["correct"], f["logits"].argmax(-1) == f["target"][None])

    data = study.prepared(cfg)   # FLOPs: 6 per non-embedding parameter and trained token, 2 per evaluated token
    params = models.non_embedding_parameters(models.load_model(cfg.checkpoint, data.head, 2, 0, 0))
    assert step["flops"] == 6 * params * data.train.tokens() * cfg.phase1.epochs + 2 * params * data.evals[
        "validation"].tokens() > 0
    assert not (pair / "manifest.json").exists()   # gathered from the steps' records on read
    manifest = results.manifest(cfg)
    assert manifest["config"] == cfg.to_dict() and manifest["ignored"] == []
    assert set(manifest["steps"]) == {s.name for s in study.pair_steps(cfg)}
    assert all(entry["state"] == "done" for entry in manifest["steps"].values())
    assert [manifest["steps"][f"phase1/run-{r}"]["seed"] for r in range(cfg.runs)] == list(cfg.phase1.seeds)
    first = json.loads((pair / "phase1" / "run-0" / "step.json").read_text())
    assert {"python", "hscore", "torch", "transformers", "numpy", "pandas"} <= set(first["versions"])
    assert first["worker"]["pid"] > 0 and first["worker"]["executor"] == "local"
    stage = results.phase1_info(cfg)
    assert (stage["head"], stage["train_rows"], stage["train_examples"]) == ("sequence_classification", 40, 40)
    assert set(stage["trivial"]) == {"validation"} and set(stage["trivial"]["validation"]) == {"accuracy"}

    scores = pd.read_parquet(pair / "scores.parquet")
    assert len(scores) == 40 and scores["example_id"].is_unique and (scores["feature"] == 0).all()
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
    expected_runs = {("full", "full"), ("cheaper", "remove-0-3")} | {(m, s.name) for s in subsets.subset_family(cfg.runs)
                                         for m in ("hscore", "random", "ambiguous")
                                         if len(saved[f"hscore/{s.name}"])}
    assert set(zip(phase2["method"], phase2["subset"])) == expected_runs
    assert len(phase2) == len(expected_runs) and set(phase2["split"]) == {"validation"}
    assert set(phase2["metric"]) == {"accuracy"}
    for row in phase2.itertuples():
        key = f"{row.method}/{row.subset}" + ("/7" if row.method == "random" else "")
        expected_size = 40 if row.method == "full" else len(saved[key])
        if row.method == "cheaper":
            cheaper = info["cheaper"]
            assert row.kept == f"H 1-{cheaper['runs'] - 1} of {cheaper['runs']} runs x {cheaper['epochs']} epochs"
        assert row.size == expected_size and row.seed == 7
        folder = pair / "phase2" / f"{row.method}--{row.subset}--7"
        assert sorted(p.name for p in folder.iterdir()) == ["metrics.json", "predictions.npz", "step.json"]
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
        models.load_model(str(folder), "sequence_classification", num_labels=2, seed=0,
                          pad_token_id=tiny_tokenizer.pad_token_id)
    model = models.load_model(str(folder), "sequence_classification", num_labels=3, seed=0,
                              pad_token_id=tiny_tokenizer.pad_token_id)
    assert model.config.num_labels == 3 and model.classifier.out_features == 3


def _scores(h, variability=None):
    h = np.asarray(h)
    var = np.linspace(0, 1, len(h)) if variability is None else np.asarray(variability)
    return pd.DataFrame({"example_id": np.arange(len(h)), "h": h, "variability": var})


def test_empty_winning_ticket_raises(tiny_config):
    cfg = tiny_config(cheaper_ticket=None)  # R = 3
    with pytest.raises(EmptySubsetError, match="winning ticket is empty"):
        selection.compute_subsets(cfg, _scores([0, 3, 3, 0, 3, 0]))
    assert not study.paths.subsets_files(cfg.results_dir)[0].exists()


def test_compute_subsets_by_hand(tiny_config):
    cfg = tiny_config(cheaper_ticket=None)  # R = 3, phase-2 seed 7; the cheaper ticket needs dynamics
    h = [0, 3, 1, 2, 1, 3, 0, 2]
    var = [0.9, 0.1, 0.2, 0.8, 0.3, 0.0, 0.7, 0.4]
    result = selection.compute_subsets(cfg, _scores(h, var))
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


def test_prepare_encodes_the_splits_and_the_trivial_scores(tiny_config):
    cfg = tiny_config()
    data = study.prepare(cfg)
    assert (data.kind.name, data.head) == ("classification", "sequence_classification")
    assert list(data.splits) == ["train", "validation"]
    assert len(data.train) == len(data.splits["train"]) == 40 and len(data.evals["validation"]) == 20
    np.testing.assert_array_equal(data.train.example_id, data.splits["train"].ids)
    train_labels, val_labels = data.splits["train"].labels, data.splits["validation"].labels
    majority = np.bincount(train_labels).argmax()
    assert data.trivial == {"validation": {"accuracy": pytest.approx(100 * np.mean(val_labels == majority))}}
    np.testing.assert_array_equal(data.units, data.train.example_id)   # score_unit: feature
    assert data.rows(np.array([5, 2])).tolist() == [5, 2]


@pytest.mark.parametrize("profile", ["offline-kinds", "smoke"])
def test_offline_profiles_prepare_every_pair(profile):
    """Every pair of the offline profiles loads (bigbench tasks from the test fixture), picks its head and
    encodes rows the way its kind says, with a trivial score to compare with."""
    heads = {"classification": "sequence_classification", "extractive_qa": "question_answering",
             "multiple_choice": "multiple_choice"}  # MiniLM is a BERT: it has a multiple-choice head
    for cfg in config.profile_configs(profile):
        data = study.prepare(cfg)
        assert data.head == heads[data.task.kind]
        assert len(data.splits["train"]) == min(cfg.train_cap, len(data.task.load(cfg.data_seed)["train"]))
        if data.task.kind == "extractive_qa":
            assert len(data.train) > len(data.splits["train"])      # long contexts give several windows
            assert max(len(ids) for ids in data.train.input_ids) == cfg.max_length
            assert data.trivial == {"validation": {"f1": 0.0, "exact": 0.0}}  # SQuAD v1.1: all answerable
        else:
            assert len(data.train) == len(data.splits["train"])
        assert set(data.trivial) == set(data.task.eval_splits)


# --- a task whose examples are several rows: extractive QA with long contexts, H per question ----------

NAMES = ["Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karl", "Lena"]


def _qa_split(first: int, n: int) -> tasks.Split:
    filler = ["The garden behind the house is full of roses.", "A small dog sleeps near the old wooden door.",
              "Every morning the baker opens his shop early.", "Rain fell on the quiet town for three days."]
    questions, contexts, answers = [], [], []
    for i in range(first, first + n):
        name = NAMES[i % len(NAMES)]
        before = " ".join(filler[(i + k) % 4] for k in range(i % 3 + 1))
        after = " ".join(filler[(i + k + 1) % 4] for k in range(3))
        if i % 4 == 3:   # unanswerable
            context = f"{before} {after}"
            answers.append({"text": [], "answer_start": []})
        else:
            fact = f"The red key belongs to {name}."
            context = f"{before} {fact} {after}"
            answers.append({"text": [name], "answer_start": [context.index(fact) + len(fact) - len(name) - 1]})
        questions.append(" Who owns the red key?")
        contexts.append(context)
    return tasks.Split(np.arange(first, first + n, dtype=np.int64),
                       np.array([len(a["text"]) > 0 for a in answers], dtype=np.int64),
                       {"question": questions, "context": contexts, "answers": answers})


@pytest.fixture
def qa_task(monkeypatch):
    task = tasks.Task("tiny_qa", "extractive_qa", tasks.QA_LABELS, "f1", ("validation",),
                      lambda seed: {"train": _qa_split(0, 8), "validation": _qa_split(100, 4)}, "synthetic")
    monkeypatch.setitem(tasks.TASKS, "tiny_qa", task)
    return task


def test_example_scores_and_subsets_train_on_every_row_of_the_kept_examples(tiny_config, qa_task, results_dir,
                                                                           monkeypatch):
    cfg = tiny_config(task="tiny_qa", max_length=32, doc_stride=8, score_unit="example", baselines=())
    data = study.prepare(cfg)
    assert data.head == "question_answering"
    ids = data.train.example_id
    windows = np.bincount(ids, minlength=8)
    assert len(data.train) == windows.sum() > 8 and (windows >= 2).all()   # several windows per question
    assert data.units.tolist() == list(range(8))
    assert data.trivial["validation"]["f1"] == pytest.approx(25.0)         # 1 of 4 questions unanswerable

    dyn = study.run_phase1(cfg, data)
    assert dyn.correct.shape == (3, 2, len(data.train)) and dyn.example_id.tolist() == ids.tolist()
    step = json.loads((cfg.results_dir / "phase1" / "run-0" / "step.json").read_text())
    assert set(step["eval"]["validation"]) == {"f1", "exact"}
    with np.load(cfg.results_dir / "phase1" / "run-0" / "dynamics.npz") as f:
        assert f["target"].shape == (len(data.train), 2) and f["logits"].shape == (2, len(data.train), 0)
        assert f["feature"].tolist() == [w for n in windows for w in range(n)]

    # One row per question; a question is right in a run and epoch only when all its windows are.
    table = selection.compute_scores(cfg, dyn)
    assert pd.read_parquet(cfg.results_dir / "scores.parquet")["example_id"].tolist() == list(range(8))
    correct = _stacked_correct(cfg.results_dir, cfg.runs)
    by_question = np.stack([correct[:, :, ids == q].all(axis=2) for q in range(8)], axis=-1)
    np.testing.assert_array_equal(table["h"], by_question.all(axis=1).sum(axis=0))
    assert (table["feature"] == 0).all()
    np.testing.assert_array_equal(table["label"], [0 if q % 4 == 3 else 1 for q in range(8)])
    # ... and with hand-made dynamics where windows disagree
    made = dataclasses.replace(dyn, correct=np.zeros_like(dyn.correct))
    made.correct[:, :, ids == 2] = True        # question 2: every window right in every run
    made.correct[0, :, ids == 5] = True        # question 5: right in run 0 ...
    made.correct[1, :, np.flatnonzero(ids == 5)[0]] = True    # ... and only one window right in run 1
    h = selection.compute_scores(cfg, made)["h"].tolist()
    assert h == [0, 0, 3, 0, 0, 1, 0, 0]
    per_window = selection.compute_scores(dataclasses.replace(cfg, score_unit="feature"), made)
    assert len(per_window) == len(data.train)
    assert per_window["feature"].tolist() == [w for n in windows for w in range(n)]
    first_of_5 = np.flatnonzero(ids == 5)[0]
    assert per_window["h"].tolist() == [3 if q == 2 else 2 if r == first_of_5 else 1 if q == 5 else 0
                                        for r, q in enumerate(ids)]

    # Phase 2: subsets of questions, each trained on all of their windows, in the full order filtered.
    scores = pd.DataFrame({"example_id": range(8), "h": [0, 1, 2, 3, 1, 2, 0, 1], "variability": np.linspace(0, 1, 8)})
    subsets_ = selection.compute_subsets(cfg, scores)
    trained = []
    real = study.fine_tune

    def spy(model, kind, tokenizer, rows, hp, **kwargs):
        trained.append((rows.example_id.copy(), rows.feature.copy(), kwargs["order"].copy(), kwargs["seed"]))
        return real(model, kind, tokenizer, rows, hp, **kwargs)

    monkeypatch.setattr(study, "fine_tune", spy)
    table2 = study.run_phase2(cfg, subsets_, data)
    assert set(table2["metric"]) == {"f1", "exact"}
    expected = {"full": list(range(8)), "remove-0-3": [1, 2, 4, 5, 7], "remove-0-1-3": [2, 5],
                "remove-0-2-3": [1, 4, 7]}
    assert len(trained) == len(expected)
    for (example_id, feature, order, seed), (name, questions) in zip(trained, expected.items()):
        rows = np.flatnonzero(np.isin(ids, questions))
        assert example_id.tolist() == ids[rows].tolist()                   # every window of each kept question
        assert feature.tolist() == data.train.feature[rows].tolist()
        full_order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed)).tolist()
        assert rows[order].tolist() == [p for p in full_order if p in set(rows.tolist())]
        metrics = json.loads((cfg.results_dir / "phase2" / f"{'full' if name == 'full' else 'hscore'}--{name}--7"
                              / "metrics.json").read_text())
        assert (metrics["size"], metrics["rows"]) == (len(questions), len(rows))
