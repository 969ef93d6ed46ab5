"""Your own data: tasks declared as data, every bad input as one clear line, and ``hscore prune``
writing the scores, the subsets (the exact rows, every original column) and a report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hscore import config, declared, results, selection, tasks
from hscore.__main__ import main
from hscore.declared import TaskSpec, load_declared, parse_spec
from hscore.errors import ConfigError, DataError

WORDS = ["great", "awful", "fine", "superb", "dull", "okay", "moving", "boring", "decent"]


def _reviews(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stars = np.array(["good", "bad", "ok"])[np.arange(n) % 3]
    text = [" ".join(rng.choice(WORDS, 6)) + f" ({s})" for s in stars]
    return pd.DataFrame({"review_id": [f"r{i:03d}" for i in range(n)], "review": text, "stars": stars,
                         "source": rng.choice(["web", "paper"], n)})


def _write(frame: pd.DataFrame, path, fmt: str):
    declared.write_table(frame, path, fmt)
    return path


def _spec(path, **extra) -> TaskSpec:
    return parse_spec("mine", {"file": str(path), "text": "review", "label": "stars", **extra})


# --- declared tasks: reading and checking ------------------------------------------------------

@pytest.mark.parametrize("fmt, ext", [("csv", ".csv"), ("tsv", ".tsv"), ("jsonl", ".jsonl"), ("parquet", ".parquet")])
def test_every_format_reads_back_the_same_examples(tmp_path, fmt, ext):
    path = _write(_reviews(), tmp_path / f"reviews{ext}", fmt)
    data = load_declared("mine", _spec(path, id="review_id"), tmp_path, seed=0)
    assert data.label_names == ("bad", "good", "ok")              # sorted: stable ids
    assert data.fmt == fmt and len(data.train) + len(data.validation) == 60 and len(data.validation) == 6
    assert sorted([*data.train.index, *data.validation.index]) == list(range(60))   # ids are row numbers
    split = declared.to_split(data, "train", _spec(path))
    assert split.ids.tolist() == data.train.index.tolist()
    assert [data.label_names[i] for i in split.labels] == data.train["stars"].tolist()
    assert split.text_a == data.train["review"].tolist()


def test_declared_labels_fix_the_ids_and_integer_labels_index_them(tmp_path):
    path = _write(_reviews(), tmp_path / "r.csv", "csv")
    data = load_declared("mine", _spec(path, labels=["ok", "bad", "good"]), tmp_path, 0)
    assert data.label_names == ("ok", "bad", "good")
    assert declared.to_split(data, "train", _spec(path)).labels.tolist() == [
        ["ok", "bad", "good"].index(v) for v in data.train["stars"]]
    ints = _reviews().assign(stars=np.arange(60) % 3)
    data = load_declared("mine", _spec(_write(ints, tmp_path / "i.csv", "csv"), labels=["neg", "neu", "pos"]),
                         tmp_path, 0)
    assert declared.to_split(data, "train", _spec(tmp_path / "i.csv")).labels.tolist() == data.train["stars"].astype(
        int).tolist()


def test_a_pair_of_text_columns_and_a_validation_file(tmp_path):
    frame = _reviews().assign(claim=lambda f: "claim " + f["review_id"])
    train = _write(frame.iloc[:50], tmp_path / "train.jsonl", "jsonl")
    val = _write(frame.iloc[50:], tmp_path / "val.jsonl", "jsonl")
    spec = parse_spec("pairs", {"train_file": "train.jsonl", "validation_file": "val.jsonl",
                                "text": ["review", "claim"], "label": "stars"})
    task = declared.declared_task("pairs", spec, tmp_path)
    splits = task.load(0)
    assert len(splits["train"]) == 50 and len(splits["validation"]) == 10
    assert splits["train"].text_b[0] == "claim r000" and task.num_labels == 3 and task.declared[0] == spec
    assert train.exists() and val.exists()


def _bad(tmp_path, frame=None, fmt="csv", name="bad.csv", **extra):
    path = tmp_path / name
    if frame is not None:
        _write(frame, path, fmt)
    return load_declared("mine", _spec(path, **extra), tmp_path, 0)


@pytest.mark.parametrize("make, message", [
    (lambda f: f.iloc[:0], "does not exist"),                                                # no file at all
    (lambda f: f.drop(columns="stars"), r"no column 'stars'; its columns are: review_id, review, source"),
    (lambda f: f.assign(review=["" if i in (3, 17) else t for i, t in enumerate(f["review"])]),
     r"2 row\(s\) with an empty text \(rows 3, 17.*drop_empty: true"),
    (lambda f: f.assign(stars="good"), "every training example has the label 'good'.*at least two classes"),
    (lambda f: f.assign(stars=["lonely" if i == 0 else s for i, s in enumerate(f["stars"])]),
     "lonely have a single example"),
    (lambda f: f.iloc[:15], "15 training examples; at least 20"),
    (lambda f: f.assign(stars=[None if i == 4 else s for i, s in enumerate(f["stars"])]),
     r"1 row\(s\) without a label \(rows 4\)"),
])
def test_bad_data_is_one_line_that_says_what_to_do(tmp_path, make, message):
    frame = make(_reviews())
    with pytest.raises(DataError, match=message) as e:
        _bad(tmp_path, frame if len(frame) else None)
    assert "\n" not in str(e.value)


def test_duplicate_ids_unseen_validation_labels_and_too_few_declared_labels(tmp_path):
    dup = _reviews().assign(review_id=lambda f: f["review_id"].where(f.index != 5, "r000"))
    with pytest.raises(DataError, match="1 id value.*'review_id'.*r000.*unique"):
        _bad(tmp_path, dup, id="review_id")
    with pytest.raises(DataError, match=r"declares 2 label\(s\) \(bad, good\) but the data has 3; not declared: ok"):
        _bad(tmp_path, _reviews(), labels=["bad", "good"])
    ints = _reviews().assign(stars=np.arange(60) % 3)   # integer ids 0..2 but two names: the raw IndexError case
    with pytest.raises(DataError, match="not declared: 2"):
        _bad(tmp_path, ints, labels=["neg", "pos"])
    _write(_reviews().iloc[:40], tmp_path / "t.csv", "csv")
    _write(_reviews().iloc[40:].assign(stars="great"), tmp_path / "v.csv", "csv")
    spec = parse_spec("mine", {"train_file": "t.csv", "validation_file": "v.csv", "text": "review", "label": "stars"})
    with pytest.raises(DataError, match="great are not among bad, good, ok"):     # not a label of the task
        load_declared("mine", spec, tmp_path, 0)
    spec = parse_spec("mine", {"train_file": "t.csv", "validation_file": "v.csv", "text": "review", "label": "stars",
                               "labels": ["bad", "good", "ok", "great"]})
    with pytest.raises(DataError, match="validation data has label.* never seen in training: great"):
        load_declared("mine", spec, tmp_path, 0)


def test_an_unreadable_encoding_names_the_option_and_the_option_reads_it(tmp_path):
    path = tmp_path / "latin.csv"
    frame = _reviews()
    frame.loc[0, "review"] = "crème brûlée, très bien"
    frame.to_csv(path, index=False, encoding="latin-1")
    with pytest.raises(DataError, match="not utf-8 text.*encoding: latin-1"):
        load_declared("mine", _spec(path), tmp_path, 0)
    data = load_declared("mine", _spec(path, encoding="latin-1"), tmp_path, 0)
    assert "crème brûlée, très bien" in pd.concat([data.train, data.validation])["review"].tolist()


def test_empty_texts_dropped_on_request_and_said(tmp_path):
    frame = _reviews().assign(review=lambda f: f["review"].where(f.index % 20 != 7, "   "))
    task = declared.declared_task("mine", _spec(_write(frame, tmp_path / "e.csv", "csv"), drop_empty=True), tmp_path)
    splits = task.load(0)
    assert len(splits["train"]) + len(splits["validation"]) == 57
    assert "3 row(s)" in task.source and "dropped" in task.source


def test_the_declaration_itself_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="exactly one of file"):
        parse_spec("x", {"text": "t", "label": "l"})
    with pytest.raises(ConfigError, match="metric 'f1'"):
        parse_spec("x", {"file": "a.csv", "text": "t", "label": "l", "metric": "f1"})
    with pytest.raises(ConfigError, match="tasks.x: colour"):
        parse_spec("x", {"file": "a.csv", "text": "t", "label": "l", "colour": "red"})
    with pytest.raises(DataError, match="unknown file type '.xlsx'"):
        load_declared("x", parse_spec("x", {"file": "a.xlsx", "text": "t", "label": "l"}), tmp_path, 0)


# --- study.yaml: tasks and profiles that extend others ----------------------------------------

def _declare(study_file, tmp_path, **profile):
    _write(_reviews(), tmp_path / "reviews.csv", "csv")

    def edit(d):
        d["tasks"] = {"my_reviews": {"file": "reviews.csv", "text": "review", "label": "stars", "id": "review_id"}}
        d["profiles"]["mine"] = {"extends": "tiny", "pairs": [{"model": "tiny-bert", "task": "my_reviews"}], **profile}
    return study_file(edit)


def test_a_declared_task_in_a_profile_that_extends_another(study_file, tmp_path):
    _declare(study_file, tmp_path, settings={"phase1": {"epochs": 1}})
    cfg = config.pair_config("mine", "tiny-bert", "my_reviews")
    tiny = config.pair_config("tiny", "tiny-bert", "rotten_tomatoes")
    assert cfg.phase1.epochs == 1 and cfg.phase1.seeds == tiny.phase1.seeds and cfg.train_cap == tiny.train_cap
    assert tasks.get_task("my_reviews").label_names == ("bad", "good", "ok")
    assert config.pairs("mine") == [("tiny-bert", "my_reviews")]


def test_study_file_errors_for_tasks_and_extends(study_file):
    study_file(lambda d: d.update(tasks={"sst2": {"file": "a.csv", "text": "t", "label": "l"}}))
    with pytest.raises(ConfigError, match="tasks.sst2: a built-in task has this name"):
        config.load_study()
    study_file(lambda d: d["profiles"].update(a={"extends": "b"}, b={"extends": "a"}))
    with pytest.raises(ConfigError, match="goes round in a circle"):
        config.load_study()
    study_file(lambda d: d["profiles"].update(a={"extends": "nope"}))
    with pytest.raises(ConfigError, match="unknown profile 'nope' \\(extended by 'a'\\)"):
        config.load_study()


# --- hscore prune and hscore score ------------------------------------------------------------

@pytest.mark.parametrize("fmt, ext", [("csv", ".csv"), ("jsonl", ".jsonl"), ("parquet", ".parquet")])
def test_prune_a_file_writes_the_exact_rows_with_their_columns(study_file, tmp_path, fmt, ext, capsys):
    study_file()
    frame = _reviews(seed=1)
    path = _write(frame, tmp_path / f"reviews{ext}", fmt)
    assert main(["prune", "--profile", "tiny", "--model", "tiny-bert", "--file", str(path), "--text", "review",
                 "--label", "stars", "--id", "review_id"]) == 0
    cfg = config.pair_config("tiny", "tiny-bert", "reviews", listed=False)
    out = cfg.results_dir / "pruned"
    assert f"pruned: {out}" in capsys.readouterr().out
    scores = pd.read_parquet(out / "scores.parquet")
    assert list(scores.columns[:4]) == list(frame.columns) and {"h", "success_rate", "label_id"} <= set(scores.columns)
    assert len(scores) == cfg.train_cap == 40
    table = selection.load_scores(cfg)
    np.testing.assert_array_equal(scores["h"], table["h"])
    original = declared.read_table(path)
    # every example's original row: the scores carry the row of the file the example came from
    pd.testing.assert_frame_equal(scores[list(frame.columns)].reset_index(drop=True),
                                  original.loc[table["example_id"]].reset_index(drop=True), check_dtype=False)
    subsets = selection.load_subsets(cfg)
    for spec in subsets.specs:
        name = "winning_ticket" if spec.is_winning_ticket else spec.name
        written = declared.read_table(out / f"{name}{ext}")
        kept = table["example_id"].to_numpy()[subsets.positions("hscore", spec.name, 7)]
        pd.testing.assert_frame_equal(written.reset_index(drop=True), original.loc[kept].reset_index(drop=True),
                                      check_dtype=False)
        assert set(written["stars"]) <= {"bad", "good", "ok"}
    ticket = declared.read_table(out / f"winning_ticket{ext}")
    assert len(ticket) == int(((table["h"] >= 1) & (table["h"] <= cfg.runs - 1)).sum())
    report = (out / "report.md").read_text()
    assert "0: bad, 1: good, 2: ok" in report and "winning_ticket" in report and "## Label balance" in report
    assert results.phase2_results(cfg).empty            # phase 2 only with --evaluate


def test_prune_a_declared_task_resumes_and_evaluates(study_file, tmp_path, capsys):
    _declare(study_file, tmp_path)
    args = ["prune", "--profile", "tiny", "--model", "tiny-bert", "--task", "my_reviews"]
    assert main(args) == 0
    cfg = config.pair_config("tiny", "tiny-bert", "my_reviews", listed=False)
    first = {p: p.stat().st_mtime_ns for p in cfg.results_dir.glob("phase1/*/dynamics.npz")}
    assert main(args + ["--evaluate"]) == 0               # phase 1 found finished, phase 2 trained
    assert {p: p.stat().st_mtime_ns for p in cfg.results_dir.glob("phase1/*/dynamics.npz")} == first
    assert set(results.phase2_results(cfg)["method"]) >= {"full", "hscore"}
    record = json.loads((cfg.results_dir / "phase1" / "run-0" / "step.json").read_text())
    assert record["data"]["labels"] == ["bad", "good", "ok"]   # the label mapping, saved with the results


def test_prune_errors_are_one_line(study_file, tmp_path, capsys):
    study_file()
    assert main(["prune", "--profile", "tiny", "--model", "tiny-bert"]) == 2
    assert "prune needs --task" in capsys.readouterr().err
    path = _write(_reviews(), tmp_path / "r.csv", "csv")
    assert main(["prune", "--profile", "tiny", "--model", "tiny-bert", "--file", str(path), "--text", "body",
                 "--label", "stars"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no column 'body'; its columns are: review_id, review, stars, source" in err


def test_score_runs_phase_1_alone(study_file, capsys):
    study_file()
    assert main(["score", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "tiny-bert/rotten_tomatoes: H histogram H=0:" in out and "remove-0-3" in out
    cfg = config.pair_config("tiny", "tiny-bert", "rotten_tomatoes")
    assert results.phase2_results(cfg).empty and len(selection.load_scores(cfg)) == 40


def test_a_hub_dataset_declared_as_data(monkeypatch):
    """The same path as the built-in SST-2/MNLI/SNLI: a Hub dataset, mocked here (no network)."""
    import datasets

    rows = _reviews(30)
    fake = {"train": rows.iloc[:24].to_dict("list"), "dev": rows.iloc[24:].to_dict("list")}
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, **kw: fake)
    spec = parse_spec("hubby", {"hub": {"path": "someone/reviews", "eval": ["dev"]}, "text": "review",
                                "label": "stars"})
    task = declared.declared_task("hubby", spec, None)
    splits = task.load(0)
    assert task.eval_splits == ("dev",) and set(splits) == {"train", "dev"} and task.label_names == ("bad", "good", "ok")
    assert splits["dev"].ids.tolist() == list(range(6)) and len(splits["train"]) == 24
    assert tasks.get_task("sst2").declared[0].hub.path == "nyu-mll/glue"


def test_a_changed_declaration_is_read_again_in_the_same_process(study_file, tmp_path):
    _declare(study_file, tmp_path)
    assert tasks.get_task("my_reviews").label_names == ("bad", "good", "ok")
    assert tasks.get_task("my_reviews") is tasks.get_task("my_reviews")          # built once
    study_file(lambda d: d.update(tasks={"my_reviews": {"file": "reviews.csv", "text": "review", "label": "stars",
                                                        "labels": ["ok", "good", "bad"]}}))
    assert tasks.get_task("my_reviews").label_names == ("ok", "good", "bad")
