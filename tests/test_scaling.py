"""The scaling profile: nested stratified samples, full data from the scoring runs, the equal-steps arm,
the small subsets against random, and the chapter's numbers (crossover, trend) on constructed data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hscore import config, paths
from hscore.__main__ import main
from hscore.data import get_task, load_splits, pair_splits
from hscore.data.split import stratified_order
from hscore.errors import ConfigError
from hscore.study import plan
from hscore.study.results import FULL_FROM_SCORING, PairResults


def test_stratified_order_is_nested_and_keeps_each_class_share():
    labels = np.array([0] * 700 + [1] * 250 + [2] * 50)
    order = stratified_order(labels, seed=3)
    assert sorted(order.tolist()) == list(range(1000))
    for n in (20, 100, 333, 999):
        counts = np.bincount(labels[order[:n]], minlength=3)
        assert np.all(np.abs(counts - n * np.array([0.7, 0.25, 0.05])) <= 1), (n, counts)
    assert not np.array_equal(order, stratified_order(labels, seed=4))


def test_scaling_profile_validates_plans_and_its_samples_are_nested(study):
    built = plan.build("scaling", study=study, check_writable=False)
    sizes = [c.train_cap for c in built.configs]
    assert sizes == [250, 500, 1000, 2000, 4000]
    assert len({c.task for c in built.configs}) == 5 and {c.model for c in built.configs} == {"minilm"}
    for cfg in built.configs:
        steps = built.of_pair(cfg)
        finetune = [s for s in steps if s.stage == "finetune"]
        assert not [s for s in finetune if s.method == "full"]   # full data: the scoring runs
        assert [s.seed for s in finetune if s.method == "equal_steps"] == [6666]
        assert sorted({s.subset for s in finetune if s.method == "hscore"}) == sorted(
            ["remove-0-6", "remove-0-1-6", "remove-0-1-2-6", "remove-0-1-2-3-6", "remove-0-1-2-3-4-6"])
        assert len([s for s in steps if s.stage == "score"]) == 6 and cfg.phase1.epochs == 3
    trains, evals = [], []
    for cfg in built.configs:
        task = get_task(cfg.task, cfg.declared)
        assert task.name == cfg.task and task.kind == "classification"
        splits = pair_splits(task, cfg)
        trains.append(splits["train"])
        evals.append(splits["validation"].ids)
    full = load_splits(get_task("rotten_tomatoes"), None, None, 0)["train"]
    share = full.labels.mean()
    for small, large in zip(trains, trains[1:]):
        assert set(small.ids) < set(large.ids)
    for train in trains:
        assert abs(train.labels.sum() - share * len(train)) <= 1
    assert all(np.array_equal(evals[0], e) for e in evals)   # one validation set for all N
    assert "scaling" in config.offline_profiles(study)


def test_phase2_full_false_needs_the_phases_to_agree(tiny_config):
    with pytest.raises(ConfigError, match="phase2_full"):
        tiny_config(phase2_full=False, phase2=config.PhaseConfig(seeds=(7,), epochs=1, lr=3e-5, batch_size=8))
    with pytest.raises(ConfigError, match="equal_steps"):
        tiny_config(equal_steps=2)
    with pytest.raises(ConfigError, match="random"):
        tiny_config(small_subsets=config.SmallSubsets(share=0.3), baselines=("ambiguous",))


def test_a_task_alias_names_only_built_in_data(study_file):
    study_file(lambda d: d["tasks"].update({"mine": {"data_of": "no_such_task"}}))
    with pytest.raises(ConfigError, match="data_of = 'no_such_task' is not a built-in task"):
        config.load_study()


def test_equal_steps_trains_as_many_updates_as_full_data(tiny_config, tiny_tokenizer, monkeypatch):
    import torch

    from hscore.engine import train
    from hscore.engine.prepared import prepare

    cfg = tiny_config()
    data = prepare(cfg)
    made = []
    real = train.get_linear_schedule_with_warmup
    monkeypatch.setattr(train, "get_linear_schedule_with_warmup",
                        lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    rows = np.arange(0, len(data.train), 3)              # a third of the rows
    subset = data.train.take(rows)
    full_updates = train.schedule_steps(cfg.phase2, int(np.ceil(len(data.train) / cfg.phase2.batch_size)))[1]
    model, _ = data.fresh_model(0)
    train.fine_tune(model, data.kind, tiny_tokenizer, subset, cfg.phase2, seed=7, order=np.arange(len(rows)),
                    device=torch.device("cpu"), record=False, updates=full_updates)
    own = train.schedule_steps(cfg.phase2, int(np.ceil(len(rows) / cfg.phase2.batch_size)))[1]
    assert made[-1].last_epoch == full_updates > own
    assert made[-1].get_last_lr()[0] == 0.0   # the schedule decayed to zero over exactly those updates


TINY_SCALING = {
    "description": "tests: two nested sizes of the random tiny BERT's Rotten Tomatoes, seconds per run",
    "settings": {"max_length": 32, "eval_cap": 20, "stratified_cap": True, "phase2_full": False,
                 "baselines": ["random"], "cheaper_ticket": None, "phase2_subsets": ["remove-0-3"],
                 "equal_steps": 1, "small_subsets": {"share": 0.6, "seeds": 1},
                 "phase1": {"seeds": [1, 2, 3], "epochs": 2, "lr": 1.0e-3, "batch_size": 8},
                 "phase2": {"seeds": [7, 8], "epochs": 2, "lr": 1.0e-3, "batch_size": 8}},
    "pairs": [{"model": "tiny-bert", "task": "rt_n40", "settings": {"train_cap": 40}},
              {"model": "tiny-bert", "task": "rt_n80", "settings": {"train_cap": 80}}],
}


@pytest.mark.slow
def test_a_two_size_scaling_profile_runs_end_to_end(study_file, results_dir):
    def edit(d):
        d["profiles"]["tiny-scaling"] = TINY_SCALING
        d["tasks"].update({"rt_n40": {"data_of": "rotten_tomatoes"}, "rt_n80": {"data_of": "rotten_tomatoes"}})

    study_file(edit)
    assert main(["run", "--profile", "tiny-scaling"]) == 0
    built = plan.build("tiny-scaling")
    for cfg in built.configs:
        pair = PairResults(cfg)
        table = pair.phase2()
        full = table[table["method"] == "full"]
        assert set(full["kept"]) == {FULL_FROM_SCORING} and sorted(full["seed"].unique()) == [1, 2, 3]
        assert (full["size"] == cfg.train_cap).all()
        preds = pair.predictions()
        assert set(preds.loc[preds["method"] == "full", "seed"]) == {1, 2, 3}
        equal = [s for s in built.of_pair(cfg) if s.method == "equal_steps"]
        assert len(equal) == 1
        metrics = json.loads((equal[0].folder / paths.METRICS_FILE).read_text())
        updates = 2 * int(np.ceil(cfg.train_cap / 8))
        assert metrics["kept"].endswith(f"{updates} updates (full data's)")
        assert metrics["size"] == pair.subsets().size(pair.subsets().winning_ticket)
        small = [s for s in built.of_pair(cfg) if s.stage == "finetune" and s.subset == "remove-0-1-3"]
        assert {s.method for s in small} == {"hscore", "random"} and {s.seed for s in small} == {7}
        size = len(pair.subsets().positions("hscore", "remove-0-1-3", 0))
        records = [json.loads((s.folder / "step.json").read_text()) for s in small]
        if size > 0.6 * cfg.train_cap:
            assert all("more than small_subsets.share" in r["skipped"] for r in records)
        else:
            assert not any(r.get("empty") for r in records) or size == 0

    from hscore.analysis import scaling as analysis
    from hscore.report import scaling as report
    from hscore.report.book import execute_notebook

    lines = report.answer("tiny-scaling")[0][1]
    assert lines[0].startswith(("Crossover at N = ", "No crossover up to 80 training examples"))
    sizes = report._measured(report.scaling_configs("tiny-scaling"))["sizes"]
    assert list(sizes["N"]) == [40, 80] and list(sizes["ticket"]) == [
        len(PairResults(c).subsets().indices["hscore/remove-0-3"]) for c in built.configs]
    assert analysis.scaling_of(built.configs) == list(built.configs)
    out = execute_notebook("scaling", results_dir.parent / "scaling.ipynb", {"profile": "tiny-scaling"})
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o["output_type"] == "error"]
    assert not errors
    text = json.dumps(nb)
    assert "<figure" in text and ("Crossover at N" in text or "No crossover" in text)


def _differences(rows):
    """A difference table from (N, comparison, A - B, low, high) rows."""
    import pandas as pd

    return pd.DataFrame([{"N": n, "comparison": c, "A - B": d, "95% CI low": lo, "95% CI high": hi,
                          "verdict": "higher" if lo > 0 else "lower" if hi < 0 else "within noise", "seeds A": 3,
                          "A score": 57.3 + (n == 250) * 0.1 + (n != 250) * 10, "majority": 57.3}
                         for n, c, d, lo, hi in rows])


def test_the_crossover_is_the_smallest_n_from_which_the_ticket_holds():
    from hscore.analysis.scaling import crossover

    rows = []
    for n, full, rand in ((250, (-4, -7, -1), (-1, -3, 1)), (500, (-1, -3, 1), (0.5, -1, 2)),
                          (1000, (-2.5, -4, -1), (1, -1, 3)), (2000, (-0.5, -2, 1), (1.5, 0, 3)),
                          (4000, (0.3, -1, 1.5), (2, 1, 3))):
        rows += [(n, "ticket - full", *full), (n, "ticket - random", *rand)]
    # 500 holds, 1000 is below full beyond noise, so N* is 2000, not 500
    assert crossover(_differences(rows)) == 2000
    no = [r if r[0] != 4000 or r[1] != "ticket - random" else (4000, "ticket - random", -0.2, -1, 0.5) for r in rows]
    assert crossover(_differences(no)) is None   # at the largest N it is not above random: no crossover


def test_the_share_trend_recovers_a_line_in_log_n_and_says_when_it_extrapolates():
    from hscore.analysis.scaling import share_trend

    n = np.array([250, 500, 1000, 2000, 4000])
    exact = share_trend(n, 90 - 10 * np.log10(n))
    assert exact.slope == pytest.approx(-10) and exact.intercept == pytest.approx(90)
    fit, low, high = exact.predict(11_477)
    assert fit == pytest.approx(90 - 10 * np.log10(11_477)) and low == pytest.approx(fit) == high
    assert exact.extrapolates(11_477) and not exact.extrapolates(1000)
    noisy = share_trend(n, 90 - 10 * np.log10(n) + np.array([2, -2, 1, -1, 0]))
    assert noisy.slope_low < -10 < noisy.slope_high and noisy.slope_high < 0
    fit, low, high = noisy.predict(67_349)
    assert low < fit < high and high - low > noisy.predict(1000)[2] - noisy.predict(1000)[1]
    flat = share_trend(n, np.array([60, 58, 61, 59, 60.0]))
    assert flat.slope_low < 0 < flat.slope_high
    assert share_trend(n[:2], np.array([60, 50.0])) is None


def test_the_sentences_say_when_a_class_vanishes_and_when_there_is_no_crossover():
    import pandas as pd

    from hscore.analysis.scaling import sentences, share_trend

    sizes = pd.DataFrame({"N": [250, 500, 1000], "ticket %": [70.0, 60.0, 50.0],
                          "neg % of train": [50.0] * 3, "neg % of ticket": [0.0, 20.0, 45.0],
                          "pos % of train": [50.0] * 3, "pos % of ticket": [100.0, 80.0, 55.0],
                          "H=0 %": [20.0, 15.0, 10.0], "H=1 %": [70.0, 60.0, 50.0], "H=2 %": [10.0, 25.0, 40.0]})
    rows = [(n, "ticket - full", -3, -5, -1) for n in (250, 500, 1000)] + \
        [(n, "ticket - random", 1, -1, 3) for n in (250, 500, 1000)]
    trend = share_trend(sizes["N"].to_numpy(), sizes["ticket %"].to_numpy())
    lines = sentences(sizes, _differences(rows), pd.DataFrame(), trend, ("neg", "pos"), {"SST-2": 67_349},
                      "minilm", "rotten_tomatoes", 0.3)
    assert lines[0].startswith("No crossover up to 1,000 training examples: it is below full data beyond noise")
    assert any("Class neg" in line and "holds none of it at N = 250, and keeps it from N = 500 on" in line
               for line in lines)
    assert any(line.startswith("What is pruned moves with N: H = 0") and "H = 2 (every run right in every epoch) "
               "10%, 25%, 40%" in line for line in lines)
    assert any("Class pos" in line and "no N drops it" in line for line in lines)
    assert any("an extrapolation" in line and "at 67,349" in line for line in lines)
    assert lines[-1].startswith("No nested subset held 30%")
    assert any(line.startswith("At N = 250 the ticket's runs score as the majority class (57.3)") for line in lines)
    assert not any("not monotone" in line for line in lines)
    turning = sizes.assign(N=[250, 500, 1000, 2000, 4000][:3], **{"ticket %": [30.0, 70.0, 60.0]})
    turning = pd.concat([turning, turning.iloc[[-1]].assign(N=2000, **{"ticket %": 55.0}),
                         turning.iloc[[-1]].assign(N=4000, **{"ticket %": 50.0})], ignore_index=True)
    more = [(n, c, -3, -5, -1) for n in (2000, 4000) for c in ("ticket - full", "ticket - random")]
    lines = sentences(turning, _differences(rows + more), pd.DataFrame(), None, ("neg", "pos"),
                      {"SST-2": 67_349}, "minilm", "rotten_tomatoes", None)
    shape = next(line for line in lines if "not monotone" in line)
    assert "largest at N = 500 (70%) and falls to 50% at 4,000" in shape
    slope = np.polyfit(np.log10([500, 1000, 2000, 4000]), [70, 60, 55, 50], 1)[0]   # -21.6
    assert f"a line in log N over N >= 500 alone gives {slope:+.1f} points per tenfold N" in shape
    assert "at 67,349" in shape and lines.index(shape) == 2   # right after the shares: the README's third line
    equal = [(n, "equal steps - ticket", d, lo, hi) for n, d, lo, hi in ((500, 3, 1, 5), (1000, 0, -2, 2),
                                                                          (2000, -3, -5, -1))]
    lines = sentences(turning, _differences(rows + more + equal), pd.DataFrame(), None, ("neg", "pos"), {},
                      "minilm", "rotten_tomatoes", None)
    said = next(line for line in lines if line.startswith("Training the ticket for full data's number of updates"))
    assert "raises it beyond noise at N = 500" in said and "lowers it beyond noise at N = 2,000" in said
    assert "1,000" not in said
