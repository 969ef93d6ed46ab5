"""Class protection in the study: a deliberately imbalanced training set (``class_shares``), the class floor as
a setting (``class_floor``: its subsets, its phase-2 runs, the ``classes`` profile) and its measured effect
(``hscore.analysis.fairness.floor_effect``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hscore import config
from hscore.analysis.fairness import floor_effect
from hscore.data import get_task, pair_splits, parse_task
from hscore.data.split import Split, with_class_shares
from hscore.dynamics import TrainingDynamics
from hscore.errors import ConfigError
from hscore.study import plan, selection


def test_with_class_shares_samples_a_class_down_to_its_share():
    labels = np.array([0] * 60 + [1] * 40)
    split = Split(np.arange(100) + 500, labels, {"text_a": [f"t{i}" for i in range(100)]})
    out = with_class_shares(split, {1: 0.2}, seed=3)
    assert len(out) == 75 and (out.labels == 1).sum() == 15 and (out.labels == 0).sum() == 60   # 15 / 75 = 20%
    assert list(out.ids) == sorted(out.ids)                                  # the original order kept
    assert out.fields["text_a"] == [f"t{i - 500}" for i in out.ids]
    assert with_class_shares(split, {1: 0.2}, seed=3).ids.tolist() == out.ids.tolist()   # seeded
    with pytest.raises(ConfigError, match="class 1 has 40 examples, fewer than the 90"):
        with_class_shares(split, {1: 0.6}, seed=3)


def test_an_imbalanced_alias_of_rotten_tomatoes_and_its_mistakes():
    alias = parse_task("rt15", {"data_of": "rotten_tomatoes", "class_shares": {1: 0.15}})
    task = get_task("rt15", alias)
    assert task.source.endswith("; training split resampled to positive 15%")
    train = task.load(0)["train"]
    assert (train.labels == 1).mean() == pytest.approx(0.15, abs=0.001)
    whole = get_task("rotten_tomatoes").load(0)
    assert (train.labels == 0).sum() == (whole["train"].labels == 0).sum()       # the other class whole
    assert task.load(0)["validation"].fingerprint() == whole["validation"].fingerprint()   # evaluation as it is
    assert alias.identity() == {"data_of": "rotten_tomatoes", "class_shares": {1: 0.15}}
    assert hash(alias) == hash(parse_task("y", {"data_of": "rotten_tomatoes", "class_shares": {1: 0.15}}))
    assert parse_task("n250", {"data_of": "rotten_tomatoes"}).identity() == {"data_of": "rotten_tomatoes"}
    for bad, said in (({1: 1.5}, "a share in \\(0, 1\\)"), ({7: 0.1}, "needs a label of rotten_tomatoes")):
        with pytest.raises(ConfigError, match=said):
            parse_task("x", {"data_of": "rotten_tomatoes", "class_shares": bad})


def test_the_classes_profile_trains_the_floor_beside_the_ticket_and_full_data():
    cfgs = {c.task: c for c in config.profile_configs("classes")}
    assert set(cfgs) == {"rotten_tomatoes", "bbc_news", "rotten_tomatoes_pos15", "rotten_tomatoes_pos5"}
    imbalanced = cfgs["rotten_tomatoes_pos15"]
    assert imbalanced.class_floor == 0.5 and imbalanced.stratified_cap and imbalanced.train_cap == 800
    train = pair_splits(get_task(imbalanced.task, imbalanced.declared), imbalanced)["train"]
    assert len(train) == 800 and (train.labels == 1).sum() == 120
    steps = plan.pair_steps(imbalanced)
    arms = {(s.method, s.subset) for s in steps if s.stage == "finetune"}
    assert arms == {("full", "full"), ("hscore", "remove-0-6"), ("floor", "remove-0-6")}
    assert sum(s.method == "floor" for s in steps) == len(imbalanced.phase2.seeds) == 3
    select_step = next(s for s in steps if s.stage == "select")
    assert select_step.settings()["class_floor"] == 0.5
    default = next(c for c in config.profile_configs("default") if c.task == "rotten_tomatoes")
    assert "class_floor" not in next(s for s in plan.pair_steps(default) if s.stage == "select").settings()
    assert not any(s.method == "floor" for s in plan.pair_steps(default))
    assert cfgs["rotten_tomatoes"].train_cap == default.train_cap and not cfgs["rotten_tomatoes"].stratified_cap


def test_class_floor_is_checked_when_the_study_is_read():
    default = next(c for c in config.profile_configs("default") if c.task == "rotten_tomatoes")
    with pytest.raises(ConfigError, match="class_floor"):
        dataclasses.replace(default, class_floor=1.5)


def test_the_selection_holds_the_floor_subsets_as_method_floor():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 70 + [1] * 30)
    correct = rng.random((6, 3, 100)) < 0.8
    correct[:, 0, 70:] = False                                   # class 1: never right in epoch 1, H = 0
    dyn = TrainingDynamics(np.arange(100), np.zeros(100, int), labels, tuple(range(6)), correct,
                           rng.random((6, 3, 100)).astype(np.float32))
    chosen = selection.select(dyn, baselines=(), class_floor=0.5)
    ticket = chosen.subsets.positions("hscore", "remove-0-6", 1)
    floor = chosen.subsets.positions("floor", "remove-0-6", 1)
    k = (labels[floor] == 1).sum()                               # half its 30% of the floor's subset, not a row more
    assert not (labels[ticket] == 1).any() and k / len(floor) >= 0.15 > (k - 1) / (len(floor) - 1)
    assert chosen.subsets.info["class_floor"] == 0.5
    (line,) = chosen.class_warnings(["neg", "pos"])
    assert line.startswith("class 'pos' (30.0% of the 100 training examples) vanishes from the winning ticket")
    assert "floor/remove-0-6" not in selection.select(dyn, baselines=()).subsets.indices


def _preds(method, subset, correct_by_class, seeds=(1, 2, 3), n=40):
    """Predictions of one arm: n examples (first half class 0), each class right with the given probability."""
    rng = np.random.default_rng(hash((method, subset)) % 2**32)
    rows = []
    for seed in seeds:
        for i in range(n):
            label = int(i >= n // 2)
            right = rng.random() < correct_by_class[label]
            rows.append({"split": "validation", "method": method, "subset": subset, "seed": seed, "example_id": i,
                         "label": label, "prediction": label if right else 1 - label})
    return pd.DataFrame(rows)


def test_floor_effect_measures_accuracy_and_each_classs_recall_with_intervals():
    preds = pd.concat([_preds("full", "full", (0.9, 0.8)), _preds("hscore", "remove-0-6", (1.0, 0.0)),
                       _preds("floor", "remove-0-6", (0.9, 0.6))])
    table = floor_effect(preds, "remove-0-6", ("neg", "pos"))
    assert table["measure"].tolist() == ["accuracy", "recall neg", "recall pos"]
    pos = table.set_index("measure").loc["recall pos"]
    floor = preds[(preds["method"] == "floor") & (preds["label"] == 1)]
    assert pos["ticket"] == 0 and pos["ticket + floor"] == pytest.approx(100 * (floor["prediction"] == 1).mean())
    assert pos["verdict"] == "higher" and pos["95% CI low"] > 0 and pos["seeds"] == 3 and pos["examples"] == 20
    acc = table.set_index("measure").loc["accuracy"]
    full = preds[preds["method"] == "full"]
    assert acc["full data"] == pytest.approx(100 * (full["prediction"] == full["label"]).mean())
    assert floor_effect(preds[preds["method"] != "floor"], "remove-0-6", ("neg", "pos")).empty


TINY_CLASSES = {
    "description": "tests: the random tiny BERT on an imbalanced Rotten Tomatoes (20% positive), with a class floor",
    "settings": {"max_length": 32, "eval_cap": 20, "train_cap": 40, "stratified_cap": True, "class_floor": 0.5,
                 "baselines": [], "cheaper_ticket": None, "phase2_subsets": ["remove-0-3"],
                 "phase1": {"seeds": [1, 2, 3], "epochs": 2, "lr": 1.0e-3, "batch_size": 8},
                 "phase2": {"seeds": [7, 8], "epochs": 1, "lr": 1.0e-3, "batch_size": 8}},
    "pairs": [{"model": "tiny-bert", "task": "rt_pos20"}],
}


@pytest.mark.slow
def test_a_class_floor_profile_runs_end_to_end(study_file, results_dir, capsys):
    """A tiny classes profile through ``hscore run``: the floor trained beside the ticket and full data, its
    class balance as promised, the warnings printed, the answer computed and the fairness page executed."""
    import json

    from hscore.__main__ import main
    from hscore.report import classes
    from hscore.report.book import execute_notebook
    from hscore.study.results import PairResults

    def edit(d):
        d["profiles"]["tiny-classes"] = TINY_CLASSES
        d["tasks"]["rt_pos20"] = {"data_of": "rotten_tomatoes", "class_shares": {1: 0.2}}

    study_file(edit)
    assert main(["run", "--profile", "tiny-classes"]) == 0
    (cfg,) = plan.build("tiny-classes").configs
    pair = PairResults(cfg)
    labels = pair.scores()["label"].to_numpy()
    assert (labels == 1).sum() == 8                                   # 20% of 40, stratified
    subsets = pair.subsets()
    ticket, floor = subsets.positions("hscore", "remove-0-3", 0), subsets.positions("floor", "remove-0-3", 0)
    for c in (0, 1):
        assert (labels[floor] == c).sum() >= np.ceil(0.5 * (labels == c).sum() * len(ticket) / 40)
    results = pair.phase2()
    floored = results[results["method"] == "floor"]
    assert sorted(floored["seed"].unique()) == [7, 8] and (floored["size"] == len(floor)).all()
    assert floored["kept"].iloc[0].endswith("every class >= 0.5 of its share")
    out = capsys.readouterr().out
    warned = selection.Selection(pair.scores(), subsets).class_warnings(("negative", "positive"))
    assert out.count("hscore: warning: tiny-bert/rt_pos20: class ") == len(warned)
    ((title, lines),) = classes.answer("tiny-classes")
    assert title == "tiny-bert on rt_pos20" and lines[0].startswith("Without a floor, ")
    if np.array_equal(floor, ticket):
        assert lines[1] == ("On rt_pos20 the floor 0.5 adds nothing (no class below 50% of its share), so there its "
                            "runs are the ticket's.")
    else:
        assert lines[1].startswith(f"On rt_pos20, the ticket with class_floor 0.5 ({len(floor)} examples instead of "
                                   f"{len(ticket)}; 'positive' ")
    assert lines[-1].startswith(f"rt_pos20: 40 training examples, the ticket {len(ticket)} ")
    nb = json.loads(execute_notebook("fairness", results_dir.parent / "fairness.ipynb",
                                     {"profile": "tiny-classes"}).read_text())
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o["output_type"] == "error"]
    assert not errors and "Does the ticket drop a class, and does a class floor help?" in json.dumps(nb)
