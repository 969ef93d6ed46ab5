"""The plan of runs: its steps and dependencies, strict validation before anything trains, and
tables that read exactly the plan's runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hscore import config, paths
from hscore.__main__ import main
from hscore.analysis import tables as summary
from hscore.errors import ResultsFolderError
from hscore.study import plan
from hscore.study.results import PairResults


def _results(profile="tiny", model="tiny-bert", task="rotten_tomatoes"):
    return PairResults(config.pair_config(profile, model, task))


@pytest.mark.parametrize("profile", ["default", "smoke", "offline-kinds", "paper"])
def test_plan_of_every_profile(study, profile):
    built = plan.build(profile, study=study, check_writable=False)
    cfgs = config.profile_configs(profile, study)
    assert [(c.model, c.task) for c in built.configs] == config.pairs(profile, study)
    per_pair_finetune = [len(c.phase2.seeds) * (1 + len(c.phase2_specs) * (1 + len(c.baselines))
                                                + (c.cheaper_ticket is not None)) for c in cfgs]
    assert built.counts() == {"score": sum(c.runs for c in cfgs), "select": len(cfgs),
                              "finetune": sum(per_pair_finetune), "tables": len(cfgs)}
    ids = [s.id for s in built.steps]
    assert len(set(ids)) == len(ids)
    position = {sid: i for i, sid in enumerate(ids)}
    for step in built.steps:
        for dep in step.deps:
            assert position[dep] < position[step.id]      # dependency order
        if step.stage == "select":
            assert step.deps == tuple(f"{step.pair}/phase1/run-{r}" for r in range(step.cfg.runs))
        if step.stage == "finetune":
            assert step.deps == (f"{step.pair}/select",)
            assert step.folder == paths.phase2_run_dir(step.cfg.results_dir, step.method, step.subset, step.seed)
        if step.stage == "tables":
            assert set(step.deps) == {s.id for s in built.of_pair(step.cfg) if s.stage in ("score", "finetune")}
        assert step.derived == (step.stage in ("select", "tables"))


def test_paper_plan_is_the_papers_grid(study):
    built = plan.build("paper", study=study, check_writable=False)
    assert built.counts() == {"score": 60, "select": 10, "finetune": 220, "tables": 10}   # 10 pairs x (6 + 22)
    mnli = [s for s in built.steps if s.pair == "roberta-large/mnli" and s.stage == "finetune"]
    assert {(s.method, s.subset) for s in mnli} >= {("full", "full"), ("hscore", "remove-0-6"),
                                                      ("random", "remove-0-6"), ("ambiguous", "remove-0-6")}
    assert {s.seed for s in mnli} == {6666}


def test_pairs_option_keeps_only_those_pairs_but_validates_all(study):
    built = plan.build("default", ["minilm/bbc_news"], study=study, check_writable=False)
    assert [(c.model, c.task) for c in built.configs] == [("minilm", "bbc_news")]
    study = json.loads(json.dumps(study))
    study["profiles"]["default"]["pairs"][0]["settings"]["train_cap"] = "many"
    with pytest.raises(config.ConfigError, match=r"pairs\[0\].*train_cap = 'many'"):
        plan.build("default", ["minilm/bbc_news"], study=study, check_writable=False)


def _cli(capsys, *args) -> tuple[int, str]:
    rc = main(list(args))
    return rc, capsys.readouterr().err


def _second_pair(key, value):
    def edit(data):
        target = data["profiles"]["default"]["pairs"][1]["settings"]
        *path, last = key.split(".")
        for part in path:
            target = target.setdefault(part, {})
        target[last] = value
    return edit


@pytest.mark.parametrize("key, value, message", [
    ("max_length", "abc", "pairs[1].settings (minilm/bbc_news).max_length = 'abc': Input should be a valid integer"),
    ("phase1.batch_size", 2.5, "phase1.batch_size = 2.5: Input should be a valid integer"),
    ("phase2.seeds", [1.5], "phase2.seeds[0] = 1.5: Input should be a valid integer"),
    ("phase1.epochs", True, "phase1.epochs = True: Input should be a valid integer"),
    ("phase1.lr", float("inf"), "phase1.lr = inf: Input should be a finite number"),
    ("phase2.lr", "1e-4", "write 1.0e-4"),
    ("trian_cap", 5, "unknown setting 'trian_cap'"),
    ("train_cap", 5, "train_cap = 5: must be null or an integer >= 20"),
    ("max_length", 100000, "max_length = 100000 is longer than the 512 positions the model"),
])
def test_bad_setting_in_the_second_pair_is_one_line_before_any_training(study_file, capsys, results_dir,
                                                                        key, value, message):
    study_file(_second_pair(key, value))
    rc, err = _cli(capsys, "run", "--profile", "default")
    assert rc == 2 and err.startswith("hscore: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not results_dir.exists()                       # nothing trained, nothing written


def test_yaml_syntax_error_is_one_line(study_file, capsys):
    study_file(text="models: {minilm: {checkpoint: x}\ndefaults: [\n")
    rc, err = _cli(capsys, "plan", "--profile", "default")
    assert rc == 2 and "not valid YAML" in err and "line " in err and err.count("\n") == 1


def test_study_file_shape_errors_name_the_place(study_file, capsys):
    study_file(lambda d: d["profiles"]["smoke"]["pairs"].append({"model": "minilm"}))
    rc, err = _cli(capsys, "plan", "--profile", "smoke")
    assert rc == 2 and "profiles.smoke.pairs[4].task: Field required" in err and err.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--pair", "minilm"], "write a pair as MODEL/TASK"),
    (["--pair", "minilm/imdb"], "unknown task 'imdb'"),
    (["--profile", "nope"], "unknown profile 'nope'"),
    (["--jobs", "0"], "--jobs 0"),
])
def test_bad_command_line_is_one_line(study_file, capsys, results_dir, args, message):
    study_file()
    rc, err = _cli(capsys, "run", *(["--profile", "tiny"] if "--profile" not in args else []), *args)
    assert rc == 2 and message in err and err.count("\n") == 1
    assert not list(results_dir.rglob("step.json"))


def test_unwritable_results_folder_fails_before_training(study_file, capsys, tmp_path, monkeypatch):
    study_file()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HSCORE_RESULTS_DIR", str(blocker / "results"))
    rc, err = _cli(capsys, "run", "--profile", "tiny")
    assert rc == 2 and "cannot be written" in err and "HSCORE_RESULTS_DIR" in err and err.count("\n") == 1
    with pytest.raises(ResultsFolderError):
        plan.writable(blocker / "results")


def test_clean_deletes_where_the_results_dir_points(study_file, capsys, results_dir):
    study_file()
    (paths.profile_dir("tiny") / "x").mkdir(parents=True)
    (paths.profile_dir("smoke") / "y").mkdir(parents=True)
    assert main(["clean", "--profile", "tiny", "--yes"]) == 0
    assert not paths.profile_dir("tiny").exists() and str(results_dir) in capsys.readouterr().out
    assert paths.profile_dir("smoke").exists()           # another profile's results are untouched


def test_clean_asks_before_deleting(study_file, capsys, monkeypatch):
    study_file()
    (paths.profile_dir("tiny") / "x").mkdir(parents=True)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["clean", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "will delete 1 folder(s)" in out and str(paths.profile_dir("tiny")) in out and "nothing deleted" in out
    assert paths.profile_dir("tiny").exists()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)   # no terminal to ask: refuse without --yes
    rc, err = _cli(capsys, "clean", "--profile", "tiny")
    assert rc == 2 and "--yes" in err and paths.profile_dir("tiny").exists()


@pytest.mark.parametrize("name", ["", ".", "..", "../..", "tiny/..", "/tmp", "nope"])
def test_clean_deletes_nothing_outside_one_profile(study_file, capsys, results_dir, tmp_path, monkeypatch, name):
    """A profile name is a name of study.yaml, never a path: '', '.', '..' delete nothing (they used to
    delete every profile, or the checkout when the results folder was inside it)."""
    study_file()
    monkeypatch.setenv("HSCORE_RESULTS_DIR", str(tmp_path / "checkout" / "results"))
    for profile in ("tiny", "smoke"):
        (paths.profile_dir(profile) / "x").mkdir(parents=True)
    (tmp_path / "checkout" / "keep.txt").write_text("source")
    rc, err = _cli(capsys, "clean", "--profile", name, "--yes")
    assert rc == 2 and err.count("\n") == 1
    assert (tmp_path / "checkout" / "keep.txt").exists()
    assert all((paths.profile_dir(p) / "x").exists() for p in ("tiny", "smoke"))


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "-x", "x y"])
def test_names_that_are_not_plain_are_refused_as_paths(name):
    with pytest.raises(config.ConfigError, match="not a plain name"):
        paths.profile_dir(name)


def test_changed_seeds_and_baselines_never_reach_a_table(study_file, capsys):
    """Run the tiny study, then change phase2.seeds and drop a baseline: the old runs stay on disk,
    are listed as ignored, and no table averages them in."""
    study_file()
    assert main(["run", "--profile", "tiny"]) == 0
    before = _results().phase2()
    assert set(before["seed"]) == {7} and set(before["method"]) == {"full", "hscore", "random", "ambiguous", "cheaper"}

    def change(d):
        d["profiles"]["tiny"]["settings"]["phase2"]["seeds"] = [8]
        d["profiles"]["tiny"]["settings"]["baselines"] = ["random"]
    study_file(change)
    changed = _results()
    assert changed.phase2().empty            # nothing of seed 7 is read as seed 8
    ignored = changed.ignored()
    assert any("full--full--7" in line and "not in the plan" in line for line in ignored)
    assert any("ambiguous--" in line for line in ignored)
    assert summary.pair_summary(changed.cfg, changed.phase2(), changed.phase1_runs()).empty

    assert main(["run", "--profile", "tiny"]) == 0
    after = _results()
    assert set(after.phase2()["seed"]) == {8} and set(after.phase2()["method"]) == {"full", "hscore", "random",
                                                                                    "cheaper"}
    table = summary.profile_summary("tiny")
    assert (table["phase-2 seeds"] == 1).all() and "ambiguous" not in table.columns and "random" in table.columns
    assert len(after.ignored()) == len(before.drop_duplicates(["method", "subset", "seed"]))
    capsys.readouterr()
    assert main(["plan", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "left out: phase2/ambiguous--remove-0-3--7: not in the plan" in out


def test_changed_learning_rate_stops_with_the_settings_that_differ(study_file, capsys):
    study_file()
    assert main(["run", "--profile", "tiny", "--stage", "score"]) == 0
    study_file(lambda d: d["profiles"]["tiny"]["settings"]["phase1"].update(lr=3.0e-4))
    assert _results().phase1_runs().empty                  # the stale runs are not read as current
    capsys.readouterr()
    rc, err = _cli(capsys, "run", "--profile", "tiny")
    assert rc == 2 and "3 finished step(s) were made from other inputs" in err
    assert "lr: 0.0001 -> 0.0003" in err and "hscore clean --profile tiny --stale" in err and err.count("\n") == 1


def test_turning_padding_free_off_makes_the_runs_stale(study_file, capsys):
    study_file()
    assert main(["run", "--profile", "tiny", "--stage", "score"]) == 0
    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(padding_free=False))
    capsys.readouterr()
    rc, err = _cli(capsys, "run", "--profile", "tiny")
    assert rc == 2 and "padding_free: True -> False" in err


def test_a_baseline_that_needs_logits_is_refused_for_qa_before_training(study_file, capsys, results_dir):
    study_file(lambda d: d["profiles"]["smoke"]["pairs"][2]["settings"].update(baselines=["random", "el2n"]))
    rc, err = _cli(capsys, "run", "--profile", "smoke")
    assert rc == 2 and "baseline 'el2n' ranks by recorded logits" in err and "minilm/squad_dev" in err
    assert not results_dir.exists()


def test_baselines_that_need_an_eval_pass_or_more_epochs_are_refused_before_training(study_file, capsys,
                                                                                     results_dir):
    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(baselines=["random", "el2n"]))
    rc, err = _cli(capsys, "run", "--profile", "tiny")
    assert rc == 2 and "el2n_epoch: 1" in err and err.count("\n") == 1
    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(baselines=["dynamic_uncertainty"]))
    rc, err = _cli(capsys, "run", "--profile", "tiny")
    assert rc == 2 and "needs phase1.epochs >= 3" in err
    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(el2n_epoch=3))
    rc, err = _cli(capsys, "run", "--profile", "tiny")
    assert rc == 2 and "el2n_epoch = 3" in err and "1..2" in err
    assert not results_dir.exists()


def test_the_eval_pass_is_recorded_and_a_changed_el2n_epoch_makes_the_runs_stale(study_file, capsys):
    from hscore.dynamics import RunDynamics

    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(el2n_epoch=1))
    assert main(["run", "--profile", "tiny", "--stage", "score"]) == 0
    cfg = config.pair_config("tiny", "tiny-bert", "rotten_tomatoes")
    run = RunDynamics.load(paths.phase1_run_dir(cfg.results_dir, 0) / paths.RUN_FILE)
    assert run.eval_logits.shape == (len(run.example_id), 2) and np.isfinite(run.eval_logits).all()
    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(el2n_epoch=2))
    capsys.readouterr()
    rc, err = _cli(capsys, "run", "--profile", "tiny")
    assert rc == 2 and "el2n_epoch: 1 -> 2" in err
    study_file()                                   # null again: the key leaves the identity, also a change
    rc, err = _cli(capsys, "run", "--profile", "tiny")
    assert rc == 2 and "el2n_epoch: 1 -> '(absent)'" in err


def test_every_baseline_of_the_registry_runs_through_the_plan_to_the_tables(study_file):
    from hscore.pruning import baselines
    from hscore.report import plots

    names = list(baselines.BASELINES)
    # the eval pass EL2N ranks by, and the 3 epochs Dynamic Uncertainty's windows need
    study_file(lambda d: (d["profiles"]["tiny"]["settings"].update(baselines=names, el2n_epoch=1),
                          d["profiles"]["tiny"]["settings"]["phase1"].update(epochs=3)))
    assert main(["run", "--profile", "tiny"]) == 0
    pair = _results()
    table = pair.phase2()
    assert set(table["method"]) == {"full", "hscore", "cheaper", *names}
    subsets = pair.subsets()
    scores = pair.scores()   # every baseline's score, from the recorded dynamics
    for spec in subsets.specs:
        size = subsets.size(spec)
        for name in names:
            np.testing.assert_array_equal(subsets.positions(name, spec.name, 7),
                                          baselines.choose(name, scores, size, 7))
            assert len(subsets.positions(name, spec.name, 7)) == size
    assert "random/remove-0-3/7" in subsets.indices and "ccs/remove-0-3/7" in subsets.indices
    assert "ambiguous/remove-0-3" in subsets.indices
    row = summary.profile_summary("tiny").iloc[0]
    assert all(np.isfinite(row[name]) for name in names)
    assert summary.display_columns(summary.profile_summary("tiny"))[names].shape == (1, len(names))
    plots.plot_winning_tickets(summary.profile_summary("tiny"))
    plots.plot_tradeoff(summary.tradeoff_table(table), "validation")
