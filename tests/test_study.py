"""One model-task pair end to end with the tiny model: layout, scores, resume, staleness, guards.

Runs are counted from the outcome the executors return (``Outcome.trained``), never by patching
the training loop."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from hscore import config, data
from hscore.engine import models
from hscore.engine.device import pick_device
from hscore.engine.prepared import prepare
from hscore.errors import EmptySubsetError, GPURequiredError, LabelCountError, StaleResultError, StepFailedError
from hscore.pruning import subsets
from hscore.pruning.scores import scores_table
from hscore.study import executors, selection
from hscore.study import plan as plans
from hscore.study.results import PairResults

PHASE1 = ("score", "select")


def run_pair(cfg, stages=None):
    """The pair's plan in this process; the outcome says which runs trained."""
    return executors.run(plans.from_configs(cfg.profile, [cfg]), "local", 1, stages)


def trained(outcome, stage="phase1"):
    return [sid.rsplit("/", 1)[-1] for sid in outcome.trained if f"/{stage}/" in sid]


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


def test_run_pair_writes_the_documented_layout(tiny_config, results_dir):
    cfg = tiny_config()
    outcome = run_pair(cfg)
    pair = _pair(cfg, results_dir)
    data = prepare(cfg)
    assert len(outcome.trained) == cfg.runs + len(plans.pair_steps(cfg)) - cfg.runs - 2 and not outcome.failed

    for r, seed in enumerate(cfg.phase1.seeds):
        run = pair / "phase1" / f"run-{r}"
        assert sorted(p.name for p in run.iterdir()) == ["dynamics.npz", "predictions.npz", "step.json"]
        step = json.loads((run / "step.json").read_text())
        with np.load(run / "predictions.npz") as f:   # per validation example: what the accuracy comes from
            assert f["validation|example_id"].tolist() == data.splits["validation"].ids.tolist()
            assert 100 * np.mean(f["validation|prediction"] == f["validation|label"]) == pytest.approx(
                step["eval"]["validation"]["accuracy"])
        assert step["seed"] == seed and step["run"] == r and step["identity"]["lr"] == cfg.phase1.lr
        assert step["identity"]["padding_free"] is True and step["padding_free"] is True  # asked for, and applied
        assert set(step["eval"]) == {"validation"} and set(step["eval"]["validation"]) == {"accuracy"}
        with np.load(run / "dynamics.npz") as f:
            assert set(f.files) == {"example_id", "feature", "label", "target", "order", "correct", "gold_prob",
                                    "logits", "eval_logits"}
            assert f["correct"].shape == (cfg.phase1.epochs, 40) and f["logits"].shape == (cfg.phase1.epochs, 40, 2)
            # the eval pass EL2N ranks by (el2n_epoch, 1 in the smoke profile this config comes from)
            assert cfg.el2n_epoch == 1 and f["eval_logits"].shape == (40, 2)
            assert f["order"].tolist() == torch.randperm(40, generator=torch.Generator().manual_seed(seed)).tolist()
            assert f["feature"].tolist() == [0] * 40                  # one row per example
            np.testing.assert_array_equal(f["target"], f["label"])    # classification: the target is the class
            np.testing.assert_array_equal(f["correct"], f["logits"].argmax(-1) == f["target"][None])

    # FLOPs: 6 per non-embedding parameter and trained token, 2 per evaluated token (the eval pass included)
    params = models.non_embedding_parameters(models.load_model(cfg.checkpoint, data.head, 2, 0, 0))
    assert step["flops"] == 6 * params * data.train.tokens() * cfg.phase1.epochs + 2 * params * data.evals[
        "validation"].tokens() + 2 * params * data.train.tokens() > 0
    assert not (pair / "manifest.json").exists()   # gathered from the steps' records on read
    results = PairResults(cfg)
    manifest = results.manifest()
    assert manifest["config"] == cfg.to_dict() and manifest["ignored"] == []
    assert set(manifest["steps"]) == {s.name for s in plans.pair_steps(cfg)}
    assert all(entry["state"] == "done" for entry in manifest["steps"].values())
    assert [manifest["steps"][f"phase1/run-{r}"]["seed"] for r in range(cfg.runs)] == list(cfg.phase1.seeds)
    first = json.loads((pair / "phase1" / "run-0" / "step.json").read_text())
    assert {"python", "hscore", "torch", "transformers", "numpy", "pandas"} <= set(first["versions"])
    assert first["worker"]["pid"] > 0 and first["worker"]["executor"] == "local"
    stage = results.phase1_info()
    assert (stage["head"], stage["train_rows"], stage["train_examples"]) == ("sequence_classification", 40, 40)
    assert set(stage["trivial"]) == {"validation"} and set(stage["trivial"]["validation"]) == {"accuracy"}

    scores = pd.read_parquet(pair / "select" / "scores.parquet")
    assert len(scores) == 40 and scores["example_id"].is_unique and (scores["feature"] == 0).all()
    correct = _stacked_correct(pair, cfg.runs)                           # [R, E, N]
    h_by_hand = np.prod(correct, axis=1).sum(axis=0)                      # sum over runs of prod over epochs
    np.testing.assert_array_equal(scores["h"].to_numpy(), h_by_hand)
    np.testing.assert_allclose(scores["success_rate"], h_by_hand / cfg.runs)

    # Subsets: the H-score family by hand from the table, and size-matched baselines.
    with np.load(pair / "select" / "subsets.npz") as f:
        saved = {k.replace("|", "/"): f[k] for k in f.files}
    info = json.loads((pair / "select" / "subsets.json").read_text())
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
    phase2 = pd.read_parquet(pair / "tables" / "phase2.parquet")   # written by the plan's tables step
    pd.testing.assert_frame_equal(phase2.reset_index(drop=True), results.phase2().reset_index(drop=True),
                                  check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_parquet(pair / "tables" / "phase1.parquet"), results.phase1_runs(),
                                  check_dtype=False)
    family = subsets.subset_family(cfg.runs)
    expected_runs = {("full", "full"), ("cheaper", "remove-0-3")} | {(m, s.name) for s in family
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


def test_resume_after_a_kill_redoes_only_the_unfinished_run(tiny_config, results_dir):
    cfg = tiny_config()
    assert trained(run_pair(cfg, PHASE1)) == ["run-0", "run-1", "run-2"]
    first = selection.load_dynamics(cfg)
    last = _pair(cfg, results_dir) / "phase1" / "run-2"
    (last / "step.json").unlink()  # killed after writing the dynamics, before marking the run finished

    again = run_pair(cfg, PHASE1)
    assert trained(again) == ["run-2"] and again.finished == []   # the finished runs are not even asked for
    assert (last / "step.json").exists()
    dyn = selection.load_dynamics(cfg)
    np.testing.assert_array_equal(dyn.correct, first.correct)  # deterministic on the CPU
    np.testing.assert_array_equal(dyn.gold_prob, first.gold_prob)


def test_rerun_of_a_finished_phase1_trains_nothing(tiny_config, results_dir):
    cfg = tiny_config()
    run_pair(cfg, PHASE1)
    again = run_pair(cfg, PHASE1)
    assert again.trained == [] and again.finished == []   # done steps are not even asked for
    dyn = selection.load_dynamics(cfg)
    assert dyn.seeds == cfg.phase1.seeds and dyn.correct.shape == (3, 2, 40)


def test_changed_lr_is_stale_and_keeps_the_old_results(tiny_config, results_dir):
    cfg = tiny_config()
    run_pair(cfg, PHASE1)
    pair = _pair(cfg, results_dir)
    before = _snapshot(pair)
    changed = dataclasses.replace(cfg, phase1=dataclasses.replace(cfg.phase1, lr=3e-4))
    with pytest.raises(StaleResultError, match=r"lr: 0\.0001 -> 0\.0003: .*phase1/run-0"):
        run_pair(changed, PHASE1)
    assert _snapshot(pair) == before


def test_gpu_required_without_cuda(tiny_config, results_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = tiny_config(require_gpu=True)
    with pytest.raises(GPURequiredError, match="HSCORE_ALLOW_CPU=1"):
        pick_device(cfg.require_gpu)
    with pytest.raises(StepFailedError, match="GPURequiredError"):   # every scoring run refuses, none trains
        run_pair(cfg, PHASE1)
    assert not list((results_dir / cfg.profile).rglob("dynamics.npz"))

    monkeypatch.setenv("HSCORE_ALLOW_CPU", "1")
    assert len(trained(run_pair(cfg, PHASE1))) == 3
    step = json.loads((cfg.results_dir / "phase1" / "run-0" / "step.json").read_text())
    assert step["device"].startswith("cpu")


def test_gpu_not_required_runs_on_cpu(tiny_config, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
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


def _dynamics(h, runs=3, epochs=2, variability=None):
    """Recorded dynamics that give these H values (example i right in every epoch of its first h[i]
    runs) and, when given, gold probabilities whose variability ranks as ``variability`` does."""
    from hscore.dynamics import TrainingDynamics

    h = np.asarray(h)
    n = len(h)
    correct = np.zeros((runs, epochs, n), dtype=bool)
    for i, k in enumerate(h):
        correct[:k, :, i] = True
    spread = np.linspace(0, 1, n) if variability is None else np.asarray(variability)
    gold = np.full((runs, epochs, n), 0.5, dtype=np.float32)
    gold[:, 0] = 0.5 - spread / 2      # the std over runs x epochs grows with ``spread``
    gold[:, 1] = 0.5 + spread / 2
    return TrainingDynamics(np.arange(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                            tuple(range(runs)), correct, gold)


def test_empty_winning_ticket_raises(tiny_config):
    cfg = tiny_config(cheaper_ticket=None)  # R = 3
    with pytest.raises(EmptySubsetError, match="winning ticket is empty"):
        selection.compute(cfg, _dynamics([0, 3, 3, 0, 3, 0]))


def test_compute_subsets_by_hand(tiny_config):
    cfg = tiny_config(cheaper_ticket=None)  # R = 3, phase-2 seed 7
    h = [0, 3, 1, 2, 1, 3, 0, 2]
    var = [0.9, 0.1, 0.2, 0.8, 0.3, 0.0, 0.7, 0.4]
    chosen = selection.compute(cfg, _dynamics(h, variability=var))
    assert chosen.scores["h"].tolist() == h
    result = chosen.subsets
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


def test_select_writes_the_files_it_read_back(tiny_config, tmp_path):
    cfg = tiny_config()
    chosen = selection.compute(cfg, _dynamics([0, 3, 1, 2, 1, 3, 0, 2, 1, 2]))
    folder = cfg.results_dir / "select"
    assert selection.write(folder, chosen) == ["scores.parquet", "subsets.npz", "subsets.json"]
    back = selection.load_subsets(cfg)
    assert back.n_full == 10 and back.info == chosen.subsets.info and "cheaper" in back.info
    assert set(back.indices) == set(chosen.subsets.indices)
    for key, positions in chosen.subsets.indices.items():
        np.testing.assert_array_equal(back.indices[key], positions)
    pd.testing.assert_frame_equal(selection.load_scores(cfg), chosen.scores)


def test_prepare_encodes_the_splits_and_the_trivial_scores(tiny_config):
    cfg = tiny_config()
    data = prepare(cfg)
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
    """Every pair of these profiles loads (bigbench tasks from the cut shipped in the package), picks its head and
    encodes rows the way its kind says, with a trivial score to compare with."""
    heads = {"classification": "sequence_classification", "extractive_qa": "question_answering",
             "multiple_choice": "multiple_choice"}  # MiniLM is a BERT: it has a multiple-choice head
    for cfg in config.profile_configs(profile):
        data = prepare(cfg)
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


def _qa_split(first: int, n: int) -> data.Split:
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
    return data.Split(np.arange(first, first + n, dtype=np.int64),
                       np.array([len(a["text"]) > 0 for a in answers], dtype=np.int64),
                       {"question": questions, "context": contexts, "answers": answers})


@pytest.fixture
def qa_task(monkeypatch):
    from hscore.data.registry import QA_LABELS

    task = data.Task("tiny_qa", "extractive_qa", QA_LABELS, "f1", ("validation",),
                     lambda seed: {"train": _qa_split(0, 8), "validation": _qa_split(100, 4)}, "synthetic")
    monkeypatch.setitem(data.BUILTIN, "tiny_qa", task)
    return task


def test_example_scores_and_subsets_train_on_every_row_of_the_kept_examples(tiny_config, qa_task, results_dir):
    cfg = tiny_config(task="tiny_qa", max_length=32, doc_stride=8, score_unit="example", baselines=(),
                      cheaper_ticket=None)
    prepared = prepare(cfg)
    assert prepared.head == "question_answering"
    ids = prepared.train.example_id
    windows = np.bincount(ids, minlength=8)
    assert len(prepared.train) == windows.sum() > 8 and (windows >= 2).all()   # several windows per question
    assert prepared.units.tolist() == list(range(8))
    assert prepared.trivial["validation"]["f1"] == pytest.approx(25.0)         # 1 of 4 questions unanswerable

    run_pair(cfg, ("score",))
    dyn = selection.load_dynamics(cfg)
    assert dyn.correct.shape == (3, 2, len(prepared.train)) and dyn.example_id.tolist() == ids.tolist()
    step = json.loads((cfg.results_dir / "phase1" / "run-0" / "step.json").read_text())
    assert set(step["eval"]["validation"]) == {"f1", "exact"}
    with np.load(cfg.results_dir / "phase1" / "run-0" / "dynamics.npz") as f:
        assert f["target"].shape == (len(prepared.train), 2) and f["logits"].shape == (2, len(prepared.train), 0)
        assert f["feature"].tolist() == [w for n in windows for w in range(n)]

    # One row per question; a question is right in a run and epoch only when all its windows are.
    table = scores_table(selection.unit_dynamics(cfg, dyn))
    assert table["example_id"].tolist() == list(range(8))
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
    assert selection.compute(cfg, made).scores["h"].tolist() == [0, 0, 3, 0, 0, 1, 0, 0]
    per_window = selection.compute(dataclasses.replace(cfg, score_unit="feature"), made).scores
    assert len(per_window) == len(prepared.train)
    assert per_window["feature"].tolist() == [w for n in windows for w in range(n)]
    first_of_5 = np.flatnonzero(ids == 5)[0]
    assert per_window["h"].tolist() == [3 if q == 2 else 2 if r == first_of_5 else 1 if q == 5 else 0
                                        for r, q in enumerate(ids)]

    # Phase 2: subsets of questions, each trained on all of their windows. The tiny model learns no QA,
    # so the selection on disk is one made from dynamics that give questions H = 0, 1, 2, 3, 1, 2, 0, 1,
    # recorded as current (its identity is what the plan expects of the select step).
    wanted = [0, 1, 2, 3, 1, 2, 0, 1]
    made = dataclasses.replace(dyn, correct=np.zeros_like(dyn.correct))
    for q, h in enumerate(wanted):
        made.correct[:h, :, ids == q] = True
    chosen = selection.compute(cfg, made)
    assert chosen.scores["h"].tolist() == wanted
    from hscore.study.run import PairRuns
    from hscore.study.store import finish_step

    select = PairRuns(cfg)["select"]
    finish_step(select.step.folder, select.identity, selection.write(select.step.folder, chosen), {})
    outcome = run_pair(cfg, ("finetune",))
    subsets_ = PairResults(cfg).subsets()
    assert not outcome.failed and subsets_.indices["hscore/remove-0-3"].tolist() == [1, 2, 4, 5, 7]
    for spec in [None, *subsets.subset_family(cfg.runs)]:
        name = "full" if spec is None else spec.name
        questions = list(range(8)) if spec is None else subsets_.indices[f"hscore/{name}"].tolist()
        folder = cfg.results_dir / "phase2" / f"{'full' if spec is None else 'hscore'}--{name}--7"
        record = json.loads((folder / "step.json").read_text())
        if not questions:
            assert record["empty"]
            continue
        metrics = json.loads((folder / "metrics.json").read_text())
        rows = np.flatnonzero(np.isin(ids, questions))   # every window of each kept question
        assert (metrics["size"], metrics["rows"]) == (len(questions), len(rows))
        assert metrics["fraction"] == len(questions) / 8
