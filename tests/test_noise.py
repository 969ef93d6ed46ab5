"""Planted label noise and its detection: flipping (seeded, stratified, recorded, stale when changed),
cleanlab's cross-validation in the plan, the detection measures against scikit-learn's, cleanlab's call,
and the chapter on the tiny test model (``hscore.data.noise``, ``hscore.pruning.label_issues``,
``hscore.analysis.noise``, ``hscore.report.noise``)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hscore import config
from hscore.analysis import noise
from hscore.data import get_task, identity, pair_splits, parse_task
from hscore.data.noise import LabelNoise, flip_labels, flipped, with_label_noise
from hscore.data.split import Split, fold_of
from hscore.errors import ConfigError
from hscore.pruning import label_issues
from hscore.study import plan
from hscore.study.run import differences


def test_flipping_is_seeded_stratified_and_never_to_the_same_label():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    out = flip_labels(labels, 3, 0.1, seed=4)
    changed = out != labels
    assert [(changed & (labels == c)).sum() for c in range(3)] == [5, 3, 2]     # round(10% of each class)
    assert np.array_equal(out, flip_labels(labels, 3, 0.1, seed=4))            # seeded
    assert not np.array_equal(out, flip_labels(labels, 3, 0.1, seed=5))
    assert set(out[changed & (labels == 0)]) <= {1, 2}
    binary = flip_labels(labels[:80] % 2, 2, 0.2, seed=0)
    assert ((binary != labels[:80] % 2) == (binary == 1 - labels[:80] % 2)).all()   # two classes: the other one
    assert np.array_equal(flip_labels(labels, 3, 0.0, seed=0), labels)
    many = flip_labels(np.zeros(3000, dtype=int), 4, 0.9, seed=1)               # drawn uniformly among the others
    assert np.allclose(np.bincount(many[many != 0], minlength=4)[1:] / 2700, 1 / 3, atol=0.03)


def test_a_noisy_split_keeps_its_clean_labels_and_its_fingerprint_says_which_rows_flipped():
    split = Split(np.arange(40) + 7, np.array([0, 1] * 20), {"text_a": [f"t{i}" for i in range(40)]})
    noisy = with_label_noise(split, LabelNoise(rate=0.25, seed=0), 2)
    assert flipped(split) is None and flipped(noisy).sum() == 10
    assert noisy.fields["clean_label"] == split.labels.tolist() and noisy.fields["text_a"] == split.fields["text_a"]
    took = noisy.take([3, 1])
    assert took.fields["clean_label"] == [1, 1]
    assert noisy.fingerprint() != split.fingerprint()
    assert with_label_noise(split, LabelNoise(rate=0.25, seed=1), 2).fingerprint() != noisy.fingerprint()


def test_a_noisy_alias_flips_after_the_cap_and_a_changed_rate_is_named_when_runs_go_stale():
    cfg = next(c for c in config.profile_configs("noise") if c.task == "rotten_tomatoes_noise10")
    task = get_task(cfg.task, cfg.declared)
    splits = pair_splits(task, cfg)
    assert len(splits["train"]) == 800 and flipped(splits["train"]).sum() == 80
    clean = pair_splits(get_task("rotten_tomatoes"), cfg)
    assert splits["train"].ids.tolist() == clean["train"].ids.tolist()                   # the same 800 rows
    assert splits["train"].fields["clean_label"] == clean["train"].labels.tolist()
    assert splits["validation"].fingerprint() == clean["validation"].fingerprint()         # validation clean
    assert task.source.endswith("; 10% of training labels flipped (seed 0)")
    data = identity(task, splits)
    assert data["flipped"] == 80 and data["task"]["label_noise"] == {"rate": 0.1, "seed": 0}
    other = dataclasses.replace(cfg, declared=parse_task("x", {"data_of": "rotten_tomatoes",
                                                                "label_noise": {"rate": 0.2, "seed": 0}}))
    changed = differences({"data": data}, {"data": identity(get_task(cfg.task, other.declared),
                                                            pair_splits(get_task(cfg.task, other.declared), other))})
    assert "the planted label noise (data.task.label_noise.rate: 0.1 -> 0.2)" in changed
    assert "the flipped labels (data.flipped: 80 -> 160)" in changed
    # without noise, the identity is what it was before label_noise existed
    assert "label_noise" not in get_task("rotten_tomatoes").identity()
    assert "flipped" not in identity(get_task("rotten_tomatoes"), clean)


def test_label_noise_declarations_and_their_mistakes(tmp_path):
    alias = parse_task("n", {"data_of": "rotten_tomatoes", "label_noise": {"rate": 0.1}})
    assert alias.label_noise == LabelNoise(rate=0.1, seed=0) and hash(alias)
    for bad, said in (({"rate": 1.5}, "label_noise.rate"), ({"rate": 0.1, "sed": 1}, "label_noise.sed")):
        with pytest.raises(ConfigError, match=said):
            parse_task("x", {"data_of": "rotten_tomatoes", "label_noise": bad})
    with pytest.raises(ConfigError, match="squad_dev_sample is a task of kind extractive_qa"):
        parse_task("x", {"data_of": "squad_dev_sample", "label_noise": {"rate": 0.1}})
    (tmp_path / "d.csv").write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(60)))
    spec = parse_task("mine", {"file": "d.csv", "text": "text", "label": "label",
                               "label_noise": {"rate": 0.2, "seed": 3}}, tmp_path)
    task = get_task("mine", spec)
    train = task.load(0)["train"]
    assert task.label_noise.rate == 0.2 and "label_noise" not in spec.identity()     # one home: Task.identity
    from hscore.data import load_splits
    assert flipped(load_splits(task, None, None, 0)["train"]).sum() == round(0.2 * (train.labels == 0).sum()) + \
        round(0.2 * (train.labels == 1).sum())


def test_cross_validation_folds_are_stratified_cover_every_row_once_and_are_planned():
    labels = np.array([0] * 70 + [1] * 30)
    fold = fold_of(labels, 5, seed=0)
    assert sorted(np.bincount(fold).tolist()) == [20] * 5
    assert all((labels[fold == k] == 1).sum() == 6 for k in range(5))             # each fold: the class's share
    assert np.array_equal(fold, fold_of(labels, 5, seed=0))
    cfg = next(c for c in config.profile_configs("noise") if c.task == "rotten_tomatoes_noise20")
    steps = plan.pair_steps(cfg)
    folds = [s for s in steps if s.fold is not None]
    assert [s.name for s in folds] == [f"crossval/fold-{k}" for k in range(5)]
    assert all(s.stage == "score" for s in folds)
    assert folds[0].settings()["fold"] == 0 and folds[0].settings()["folds"] == 5
    select = next(s for s in steps if s.stage == "select")
    assert set(s.id for s in folds) <= set(select.deps) and select.settings()["cleanlab_folds"] == 5
    arms = {(s.method, s.subset) for s in steps if s.stage == "finetune"}
    assert arms == {("full", "full"), ("hscore", "remove-0-6"), ("random", "remove-0-6"),
                    ("cleanlab", "issues-removed")}
    default = next(c for c in config.profile_configs("default") if c.task == "rotten_tomatoes")
    assert not any(s.fold is not None for s in plan.pair_steps(default))
    assert "cleanlab_folds" not in next(s for s in plan.pair_steps(default) if s.stage == "select").settings()
    with pytest.raises(ConfigError, match="cleanlab_folds"):
        dataclasses.replace(cfg, cleanlab_folds=1)
    qa = next(c for c in config.profile_configs("smoke") if c.task == "squad_dev_sample")
    with pytest.raises(ConfigError, match="cleanlab_folds needs a classification task"):
        plan.check(dataclasses.replace(qa, cleanlab_folds=3))


def test_out_of_sample_probabilities_need_every_row_once():
    parts = [(np.array([0, 2]), np.array([[0.9, 0.1], [0.2, 0.8]])), (np.array([1]), np.array([[0.5, 0.5]]))]
    assert label_issues.out_of_sample_probs(parts, 3)[2].tolist() == [0.2, 0.8]
    with pytest.raises(ValueError, match="1 never"):
        label_issues.out_of_sample_probs(parts[:1], 3)
    logits = np.zeros((2, 3, 4, 2))
    logits[0, 0, 0] = [0.0, np.log(3)]            # run 0 epoch 1: p = (1/4, 3/4); run 1: (1/2, 1/2)
    assert label_issues.first_epoch_probs(logits)[0] == pytest.approx([0.375, 0.625])


def test_cleanlabs_call_on_a_tiny_case_is_cleanlabs_own():
    import cleanlab.filter
    import cleanlab.rank

    rng = np.random.default_rng(0)
    labels = np.array([0] * 30 + [1] * 30)
    probs = np.where(labels[:, None] == np.arange(2), 0.9, 0.1) + rng.uniform(-0.05, 0.05, (60, 1)) * [1, -1]
    labels[[3, 40]] = 1 - labels[[3, 40]]                                            # two rows mislabelled
    mask = label_issues.issues(labels, probs)
    assert set(np.flatnonzero(mask)) <= {3, 40} and mask.any()                       # only the mislabelled rows
    assert np.array_equal(mask, cleanlab.filter.find_label_issues(labels, probs))
    assert np.allclose(label_issues.quality(labels, probs), cleanlab.rank.get_label_quality_scores(labels, probs))


def test_detection_measures_agree_with_scikit_learn():
    from sklearn.metrics import precision_recall_curve, roc_auc_score

    rng = np.random.default_rng(1)
    noisy = rng.random(300) < 0.15
    score = np.round(noisy * 0.8 + rng.normal(0, 0.6, 300), 1)                      # rounded: many ties
    assert noise.auroc(score, noisy) == pytest.approx(roc_auc_score(noisy, score))
    assert noise.auroc(noisy.astype(float), noisy) == 1 and noise.auroc(-noisy.astype(float), noisy) == 0
    assert noise.auroc(np.zeros(300), noisy) == 0.5 and np.isnan(noise.auroc(score, np.zeros(300, bool)))
    recall, precision = noise.pr_curve(score, noisy)
    sk_p, sk_r, _ = precision_recall_curve(noisy, score)
    assert np.allclose(recall[::-1], sk_r[:-1]) and np.allclose(precision[::-1], sk_p[:-1])
    flags = noise.top_k(np.array([0.5, 0.9, 0.5, np.nan, 0.5]), 2)
    assert flags.tolist() == [True, True, False, False, False]                      # ties in training order
    assert noise.top_k(np.array([np.nan, 1.0]), 2).tolist() == [False, True]         # NaN never flagged


TINY_NOISE = {
    "description": "tests: the random tiny BERT on Rotten Tomatoes with 30% of its labels flipped, and cleanlab",
    "settings": {"max_length": 32, "eval_cap": 20, "train_cap": 40, "baselines": ["random"], "cheaper_ticket": None,
                 "phase2_subsets": ["remove-0-3"], "cleanlab_folds": 2, "el2n_epoch": 1,
                 "phase1": {"seeds": [1, 2, 3], "epochs": 2, "lr": 1.0e-3, "batch_size": 8},
                 "phase2": {"seeds": [7, 8], "epochs": 1, "lr": 1.0e-3, "batch_size": 8}},
    "pairs": [{"model": "tiny-bert", "task": "rt_noise0"}, {"model": "tiny-bert", "task": "rt_noise30"}],
}


@pytest.mark.slow
def test_a_noise_profile_runs_end_to_end_and_its_chapter_executes(study_file, results_dir):
    """A tiny noise profile through ``hscore run``: the folds, cleanlab's subset and its phase-2 runs, the
    detection table, the answer and the chapter executed."""
    from hscore.__main__ import main
    from hscore.report import noise as chapter
    from hscore.report.book import execute_notebook
    from hscore.study.results import PairResults

    def edit(d):
        d["profiles"]["tiny-noise"] = TINY_NOISE
        d["tasks"]["rt_noise0"] = {"data_of": "rotten_tomatoes"}
        d["tasks"]["rt_noise30"] = {"data_of": "rotten_tomatoes", "label_noise": {"rate": 0.3, "seed": 0}}

    study_file(edit)
    assert main(["run", "--profile", "tiny-noise"]) == 0
    clean, noisy = (PairResults(c) for c in sorted(plan.build("tiny-noise").configs, key=noise.noise_rate))
    assert len(noisy.fold_runs()) == 2 and (noisy.fold_runs()["held out"] == 20).all()
    assert len(noisy.phase1_runs().drop_duplicates("run")) == 3                      # the folds are not scoring runs
    kept = noisy.subsets().positions("cleanlab", "issues-removed", 0)
    issues = noisy.subsets().info["cleanlab"]["issues"]
    assert len(kept) == 40 - issues
    phase2 = noisy.phase2()
    assert (phase2[phase2["method"] == "cleanlab"]["size"] == len(kept)).all()
    truth = noise.flipped_rows(noisy.cfg, noisy.scores())
    table = noise.detection(noise.detectors(noisy), truth, draws=50).set_index("detector")
    assert truth.sum() == 12 and (table["flipped"] == 12).all()
    zero = noisy.scores()["h"].to_numpy() == 0
    assert table.loc[noise.H_ZERO, "flagged"] == zero.sum()
    if zero.any():
        assert table.loc[noise.H_ZERO, "precision"] == pytest.approx(100 * truth[zero].mean())
    assert table.loc[noise.CLEANLAB_CV, "flagged"] == issues
    assert {"confidence", "forgetting", "AUM", "EL2N", noise.CLEANLAB_FREE} <= set(table.index)
    h = noisy.scores()["h"].to_numpy()
    where = noise.flipped_by_h(h, truth, 3)
    assert where == {"flipped": 12, "H = 0": int((truth & (h == 0)).sum()), "H = R": int((truth & (h == 3)).sum()),
                     "ticket": int((truth & (h > 0) & (h < 3)).sum())}
    assert noise.detection(noise.detectors(clean), noise.flipped_rows(clean.cfg, clean.scores())).empty
    assert noise.noise_rate(clean.cfg) == 0
    assert set(noise.effects(noisy)["method"]) == {"hscore", "random", "cleanlab"}
    ((title, lines),) = chapter.answer("tiny-noise")
    assert title == "tiny-bert on rotten_tomatoes at 0%, 30% flipped labels"
    assert lines[0].startswith(f"At 30% flipped labels (12 of 40), H = 0 flags {zero.sum()} rows: precision ")
    assert any("its gain at 30% minus its gain at 0%" in line for line in lines)
    assert any(line.startswith("What the paper's rule drops at 30% noise: ") for line in lines)
    assert lines[-1].startswith("Rows with H = 0 whose runs put another class above their label on average")
    out = execute_notebook("noise", results_dir.parent / "noise.ipynb", {"profile": "tiny-noise"})
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o["output_type"] == "error"]
    assert not errors and "Precision against recall of the flipped rows" in json.dumps(nb)
