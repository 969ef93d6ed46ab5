"""Your own data: tasks declared as data, every bad input as one clear line, and ``hscore prune``
writing the scores, the subsets (the exact rows, every original column) and a report."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from hscore import config, data
from hscore.__main__ import main
from hscore.data import declared
from hscore.data.declared import TaskSpec, load_declared, parse_spec
from hscore.errors import ConfigError, DataError
from hscore.study.results import PairResults


def _results(profile, model, task, file=None, **declared_as):
    """The readers of a pair; with ``file``: of the task ``hscore prune --file`` declares for it."""
    tasks = None
    if file is not None:
        from hscore.report.prune import declare_file

        name, spec = declare_file(file, [declared_as.pop("text", "review")], declared_as.pop("label", "stars"),
                                  **declared_as)
        assert name == task
        tasks = {name: spec}
    return PairResults(config.pair_config(profile, model, task, listed=False, tasks=tasks))

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
    return parse_spec("mine", {"file": str(path), "text": "review", "label": "stars", **extra}, path.parent)


# --- declared tasks: reading and checking ------------------------------------------------------

@pytest.mark.parametrize("fmt, ext", [("csv", ".csv"), ("tsv", ".tsv"), ("jsonl", ".jsonl"), ("parquet", ".parquet")])
def test_every_format_reads_back_the_same_examples(tmp_path, fmt, ext):
    path = _write(_reviews(), tmp_path / f"reviews{ext}", fmt)
    data = load_declared("mine", _spec(path, id="review_id"), seed=0)
    assert data.label_names == ("bad", "good", "ok")              # sorted: stable ids
    assert data.fmt == fmt and len(data.train) + len(data.validation) == 60 and len(data.validation) == 6
    assert sorted([*data.train.index, *data.validation.index]) == list(range(60))   # ids are row numbers
    split = declared.to_split(data, "train", _spec(path))
    assert split.ids.tolist() == data.train.index.tolist()
    assert [data.label_names[i] for i in split.labels] == data.train["stars"].tolist()
    assert split.text_a == data.train["review"].tolist()


def test_declared_labels_fix_the_ids_and_integer_labels_index_them(tmp_path):
    path = _write(_reviews(), tmp_path / "r.csv", "csv")
    data = load_declared("mine", _spec(path, labels=["ok", "bad", "good"]), 0)
    assert data.label_names == ("ok", "bad", "good")
    assert declared.to_split(data, "train", _spec(path)).labels.tolist() == [
        ["ok", "bad", "good"].index(v) for v in data.train["stars"]]
    ints = _reviews().assign(stars=np.arange(60) % 3)
    data = load_declared("mine", _spec(_write(ints, tmp_path / "i.csv", "csv"), labels=["neg", "neu", "pos"]), 0)
    assert declared.to_split(data, "train", _spec(tmp_path / "i.csv")).labels.tolist() == data.train["stars"].astype(
        int).tolist()


def test_a_pair_of_text_columns_and_a_validation_file(tmp_path):
    frame = _reviews().assign(claim=lambda f: "claim " + f["review_id"])
    train = _write(frame.iloc[:50], tmp_path / "train.jsonl", "jsonl")
    val = _write(frame.iloc[50:], tmp_path / "val.jsonl", "jsonl")
    spec = parse_spec("pairs", {"train_file": "train.jsonl", "validation_file": "val.jsonl",
                                "text": ["review", "claim"], "label": "stars"}, tmp_path)
    assert spec.train_file == str(train) and spec.validation_file == str(val)   # paths made absolute
    task = declared.declared_task("pairs", spec)
    splits = task.load(0)
    assert len(splits["train"]) == 50 and len(splits["validation"]) == 10
    assert splits["train"].text_b[0] == "claim r000" and task.num_labels == 3 and task.declared == spec
    assert train.exists() and val.exists()


def _bad(tmp_path, frame=None, fmt="csv", name="bad.csv", **extra):
    path = tmp_path / name
    if frame is not None:
        _write(frame, path, fmt)
    return load_declared("mine", _spec(path, **extra), 0)


@pytest.mark.parametrize("make, message", [
    (lambda f: f.iloc[:0], "does not exist"),                                                # no file at all
    (lambda f: f.drop(columns="stars"), r"no column 'stars'; its columns are: 'review_id', 'review', 'source'"),
    (lambda f: f.assign(review=["" if i in (3, 17) else t for i, t in enumerate(f["review"])]),
     r"2 row\(s\) with an empty text \(rows 3, 17.*drop_empty: true"),
    (lambda f: f.assign(stars="good"), "every training example has the label 'good'.*at least two classes"),
    (lambda f: f.assign(stars=["lonely" if i == 0 else s for i, s in enumerate(f["stars"])]),
     "'lonely' have a single example"),
    (lambda f: f.iloc[:15], "15 training examples; at least 20"),
    (lambda f: f.assign(stars=[None if i == 4 else s for i, s in enumerate(f["stars"])]),
     r"1 row\(s\) without a label \(rows 4\)"),
    (lambda f: f.assign(stars=["Good" if i % 12 == 0 else s for i, s in enumerate(f["stars"])]),
     r"labels that differ only in case or spacing: 'good' \(15 rows\) and 'Good' \(5 rows\)"),
    (lambda f: f.iloc[:0][["review", "stars"]], "has a header \\('review', 'stars'\\) but no rows"),
])
def test_bad_data_is_one_line_that_says_what_to_do(tmp_path, make, message):
    frame = make(_reviews())
    with pytest.raises(DataError, match=message) as e:
        _bad(tmp_path, frame if len(frame) or len(frame.columns) < 4 else None)
    assert "\n" not in str(e.value)


def test_a_folder_an_empty_file_and_list_texts_are_one_line(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        load_declared("mine", _spec(tmp_path / "folder.csv"), 0)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_declared("mine", _spec(tmp_path / "empty.csv"), 0)
    lists = _reviews().assign(review=lambda f: [t.split() for t in f["review"]])
    lists.to_parquet(tmp_path / "lists.parquet")
    with pytest.raises(DataError, match="'review' must hold one text per row, but row 0 holds a"):
        load_declared("mine", _spec(tmp_path / "lists.parquet"), 0)


def test_declared_labels_may_keep_labels_apart_by_case(tmp_path):
    """Declaring the labels says both spellings are meant: then they are two classes."""
    frame = _reviews().assign(stars=lambda f: f["stars"].where(f.index % 12 != 0, "Good"))
    data = _bad(tmp_path, frame, labels=["bad", "good", "ok", "Good"])
    assert data.label_names == ("bad", "good", "ok", "Good")


def test_duplicate_ids_unseen_validation_labels_and_too_few_declared_labels(tmp_path):
    dup = _reviews().assign(review_id=lambda f: f["review_id"].where(f.index != 5, "r000"))
    with pytest.raises(DataError, match="1 id value.*'review_id'.*r000.*unique"):
        _bad(tmp_path, dup, id="review_id")
    declared = r"declares 2 label\(s\) \('bad', 'good'\) but the data has 3; not declared: 'ok'"
    with pytest.raises(DataError, match=declared):
        _bad(tmp_path, _reviews(), labels=["bad", "good"])
    ints = _reviews().assign(stars=np.arange(60) % 3)   # integer ids 0..2 but two names: the raw IndexError case
    with pytest.raises(DataError, match="not declared: '2'"):
        _bad(tmp_path, ints, labels=["neg", "pos"])
    _write(_reviews().iloc[:40], tmp_path / "t.csv", "csv")
    _write(_reviews().iloc[40:].assign(stars="great"), tmp_path / "v.csv", "csv")
    spec = parse_spec("mine", {"train_file": "t.csv", "validation_file": "v.csv", "text": "review", "label": "stars"},
                      tmp_path)
    with pytest.raises(DataError, match="'great' are not among 'bad', 'good', 'ok'"):     # not a label of the task
        load_declared("mine", spec, 0)
    spec = parse_spec("mine", {"train_file": "t.csv", "validation_file": "v.csv", "text": "review", "label": "stars",
                               "labels": ["bad", "good", "ok", "great"]}, tmp_path)
    with pytest.raises(DataError, match="validation data has label.* never seen in training: 'great'"):
        load_declared("mine", spec, 0)


def test_an_unreadable_encoding_names_the_option_and_the_option_reads_it(tmp_path):
    path = tmp_path / "latin.csv"
    frame = _reviews()
    frame.loc[0, "review"] = "crème brûlée, très bien"
    frame.to_csv(path, index=False, encoding="latin-1")
    with pytest.raises(DataError, match="not utf-8 text.*encoding: latin-1"):
        load_declared("mine", _spec(path), 0)
    data = load_declared("mine", _spec(path, encoding="latin-1"), 0)
    assert "crème brûlée, très bien" in pd.concat([data.train, data.validation])["review"].tolist()
    with pytest.raises(ConfigError, match="encoding 'latin-9000' is not a text encoding Python knows"):
        _spec(path, encoding="latin-9000")


def test_empty_texts_dropped_on_request_and_said(tmp_path):
    frame = _reviews().assign(review=lambda f: f["review"].where(f.index % 20 != 7, "   "))
    task = declared.declared_task("mine", _spec(_write(frame, tmp_path / "e.csv", "csv"), drop_empty=True))
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
        load_declared("x", parse_spec("x", {"file": "a.xlsx", "text": "t", "label": "l"}, tmp_path), 0)


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
    assert data.get_task("my_reviews", cfg.declared).label_names == ("bad", "good", "ok")
    assert cfg.declared.file == str(tmp_path / "reviews.csv")    # relative to the folder of study.yaml
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

def _prune(path, *extra, text="review"):
    return main(["prune", "--profile", "tiny", "--model", "tiny-bert", "--file", str(path), "--text", text,
                 "--label", "stars", *extra])


@pytest.mark.parametrize("fmt, ext", [("csv", ".csv"), ("jsonl", ".jsonl"), ("parquet", ".parquet")])
def test_prune_a_file_writes_the_exact_rows_with_their_columns(study_file, tmp_path, fmt, ext, capsys):
    study_file()
    frame = _reviews(seed=1)
    path = _write(frame, tmp_path / f"reviews{ext}", fmt)
    assert _prune(path, "--id", "review_id") == 0
    pair = _results("tiny", "tiny-bert", "reviews", path, id="review_id")
    cfg = pair.cfg
    out = cfg.results_dir / "pruned"
    printed = capsys.readouterr().out
    assert f"pruned: {out}" in printed
    assert "3 scoring run(s) x 2 epochs over 40 rows" in printed and "tokens/s measured here" in printed
    scores = pd.read_parquet(out / "scores.parquet")
    assert list(scores.columns[:4]) == list(frame.columns) and {"h", "success_rate", "label_id"} <= set(scores.columns)
    assert len(scores) == cfg.train_cap == 40
    table = pair.scores()
    np.testing.assert_array_equal(scores["h"], table["h"])
    original = declared.read_table(path)
    # every example's original row: the scores carry the row of the file the example came from
    pd.testing.assert_frame_equal(scores[list(frame.columns)].reset_index(drop=True),
                                  original.loc[table["example_id"]].reset_index(drop=True), check_dtype=False)
    subsets = pair.subsets()
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
    assert pair.phase2().empty and "## Phase 2" not in report   # phase 2 only with --evaluate


def test_the_written_subsets_read_back_through_prune_itself(study_file, tmp_path, capsys):
    """Texts with carriage returns, quotes, separators and line breaks: every written file is read back by
    the tool's own reader as exactly the same rows and columns (they used to split at a bare \\r)."""
    study_file()
    frame = _reviews(seed=2)
    frame.loc[::4, "review"] = frame.loc[::4, "review"] + "\r second line, \"quoted\"\r\n third"
    frame.loc[1::4, "source"] = "tab\there"
    for fmt, ext in (("csv", ".csv"), ("tsv", ".tsv"), ("jsonl", ".jsonl")):
        path = tmp_path / f"crlf{ext}"
        frame.to_csv(path, index=False, sep="\t" if fmt == "tsv" else ",") if fmt != "jsonl" else _write(
            frame, path, fmt)
        original = declared.read_table(path)
        assert original["review"].tolist() == frame["review"].tolist()
        assert _prune(path, "--out", str(tmp_path / f"out-{fmt}")) == 0
        pair = _results("tiny", "tiny-bert", "crlf", path)
        table, subsets = pair.scores(), pair.subsets()
        for spec in subsets.specs:
            name = "winning_ticket" if spec.is_winning_ticket else spec.name
            written = declared.read_table(tmp_path / f"out-{fmt}" / f"{name}{ext}")
            kept = table["example_id"].to_numpy()[subsets.positions("hscore", spec.name, 7)]
            pd.testing.assert_frame_equal(written.reset_index(drop=True), original.loc[kept].reset_index(drop=True))
        from hscore.__main__ import main as again
        assert again(["clean", "--profile", "tiny", "--yes"]) == 0
    capsys.readouterr()


def test_a_column_named_like_a_score_is_kept_and_said(study_file, tmp_path, capsys):
    study_file()
    frame = _reviews().assign(confidence=np.linspace(0.1, 0.9, 60).round(2), stars_n=np.arange(60) % 5)
    path = _write(frame, tmp_path / "conf.csv", "csv")
    assert _prune(path) == 0
    printed = capsys.readouterr().out
    assert "the data already has a column 'confidence': the score is written as 'hscore_confidence'" in printed
    out = _results("tiny", "tiny-bert", "conf", path).cfg.results_dir / "pruned"
    scores = pd.read_parquet(out / "scores.parquet")
    assert scores["confidence"].dtype == float and scores["stars_n"].dtype.kind == "i"   # numbers as numbers
    assert pd.api.types.is_string_dtype(scores["review"]) and "hscore_confidence" in scores.columns
    assert set(scores["confidence"]) <= set(frame["confidence"])
    assert "hscore_confidence" in (out / "report.md").read_text()


def test_prune_with_a_class_floor_writes_the_floor_ticket_and_prints_the_warnings(study_file, tmp_path, capsys):
    """``--class-floor 0.5``: ``winning_ticket_floor.csv`` holds the ticket and, per class, the examples added back
    to half its share; every class warning is one ``hscore: warning:`` line and in the report."""
    from hscore.pruning.classes import class_warnings

    study_file()
    path = _write(_reviews(seed=3), tmp_path / "floored.csv", "csv")
    assert _prune(path, "--class-floor", "0.5") == 0
    printed = capsys.readouterr().out
    pair = _results("tiny", "tiny-bert", "floored", path)
    assert pair.cfg.class_floor is None            # the study's setting is unchanged; the option applies to this run
    pair = type(pair)(dataclasses.replace(pair.cfg, class_floor=0.5))
    table, subsets = pair.scores(), pair.subsets()
    out = pair.cfg.results_dir / "pruned"
    labels = table["label"].to_numpy()
    ticket = subsets.positions("hscore", subsets.winning_ticket.name, 7)
    written = declared.read_table(out / "winning_ticket_floor.csv")
    floor = subsets.positions("floor", subsets.winning_ticket.name, 7)
    assert len(written) == len(floor) >= len(ticket) and set(ticket) <= set(floor)
    for c in range(3):
        assert (labels[floor] == c).sum() >= np.ceil(0.5 * (labels == c).sum() * len(ticket) / len(labels))
    warned = class_warnings(labels, subsets.hscore_positions(), ["bad", "good", "ok"], table["h"].to_numpy(), 3)
    assert printed.count("hscore: warning: class ") == len(warned)
    assert all(line.endswith("(kept: class_floor = 0.5 adds its examples back)") for line in printed.splitlines()
               if line.startswith("hscore: warning: class "))   # as hscore select says it
    report = (out / "report.md").read_text()
    assert "winning_ticket_floor.csv" in report and all(w in report for w in warned)


def test_the_report_says_which_class_the_ticket_keeps_less_of(tmp_path):
    """137 positives of 1,000, 93 of them never learned: the ticket keeps 42 positives of 518 (8.1% against 13.7%),
    above half their share: no warning; 20 of them (3.9%): one line, as the report and the command print it."""
    from hscore.pruning.classes import class_warnings

    labels = np.concatenate([np.ones(137, int), np.zeros(863, int)])
    h = np.concatenate([np.full(93, 0), np.full(42, 3), np.full(2, 6), np.full(387, 6), np.full(476, 3)])
    ticket = np.flatnonzero((h >= 1) & (h <= 5))
    assert len(ticket) == 518 and class_warnings(labels, {"remove-0-6": ticket}, ["neg", "pos"], h, 6) == []
    h[93 + 20:93 + 42] = 0
    ticket = np.flatnonzero((h >= 1) & (h <= 5))
    assert class_warnings(labels, {"remove-0-6": ticket}, ["neg", "pos"], h, 6) == [
        "class 'pos' (13.7% of the 1000 training examples) falls to 4.0% of the winning ticket (20 of its 137 examples "
        "kept; 115 have H = 0 and 2 H = 6): a model trained on it sees the class rarely; class_floor keeps it"]


def test_prune_a_declared_task_resumes_and_evaluates(study_file, tmp_path, capsys):
    _declare(study_file, tmp_path)
    args = ["prune", "--profile", "tiny", "--model", "tiny-bert", "--task", "my_reviews"]
    assert main(args) == 0
    cfg = config.pair_config("tiny", "tiny-bert", "my_reviews", listed=False)
    first = {p: p.stat().st_mtime_ns for p in cfg.results_dir.glob("phase1/*/dynamics.npz")}
    capsys.readouterr()
    assert main(args + ["--evaluate"]) == 0               # phase 1 found finished, phase 2 trained
    printed = capsys.readouterr().out
    assert "0 scoring run(s)" in printed and "phase-2 run(s) of at most" in printed
    assert {p: p.stat().st_mtime_ns for p in cfg.results_dir.glob("phase1/*/dynamics.npz")} == first
    pair = _results("tiny", "tiny-bert", "my_reviews")
    assert set(pair.phase2()["method"]) >= {"full", "hscore"}
    record = json.loads((cfg.results_dir / "phase1" / "run-0" / "step.json").read_text())
    assert record["data"]["labels"] == ["bad", "good", "ok"]   # the label mapping, saved with the results
    report = (cfg.results_dir / "pruned" / "report.md").read_text()
    assert "## Phase 2: fine-tuning on the subsets" in report and "95% interval" in report
    assert "full data (phase-2 settings)" in report and "within noise" in report or "beyond" in report


def test_prune_with_a_validation_file_and_two_workers(study_file, tmp_path):
    """--validation-file, a documented option, works; --jobs 2 runs the declared task in worker processes
    (the declaration travels with the plan's steps)."""
    study_file()
    frame = _reviews()
    train = _write(frame.iloc[:48], tmp_path / "train.csv", "csv")
    val = _write(frame.iloc[48:], tmp_path / "val.csv", "csv")
    assert _prune(train, "--validation-file", str(val), "--jobs", "2") == 0
    pair = _results("tiny", "tiny-bert", "train", train, validation_file=val)
    records = [r.record for r in pair.runs.stage("score")]
    assert {r["worker"]["executor"] for r in records} == {"local-jobs"}
    assert len({r["worker"]["pid"] for r in records}) == 2
    assert pair.phase1_info()["train_examples"] == 40 and pair.cfg.declared.validation_file == str(val)


def test_prune_with_a_train_cap_scores_a_sample(study_file, tmp_path):
    study_file()
    path = _write(_reviews(), tmp_path / "capped.csv", "csv")
    assert _prune(path, "--train-cap", "25") == 0
    import dataclasses

    pair = _results("tiny", "tiny-bert", "capped", path)
    assert len(PairResults(dataclasses.replace(pair.cfg, train_cap=25)).scores()) == 25


def test_a_changed_file_makes_its_runs_stale_named(study_file, tmp_path, capsys):
    """40 texts of the file replaced (or another file under the same name): nothing of the old runs is reused,
    and the message says that the training data changed."""
    study_file()
    path = _write(_reviews(), tmp_path / "a" / "train.csv", "csv")
    assert _prune(path) == 0
    other = _reviews().assign(review=lambda f: f["review"].where(f.index >= 40, "replaced text " + f["review_id"]))
    capsys.readouterr()
    _write(other, path, "csv")
    assert _prune(path) == 2
    err = capsys.readouterr().err
    assert "3 finished step(s) were made from other inputs" in err and "the training data" in err
    assert err.count("\n") == 1 and "--stale" in err
    (tmp_path / "b").mkdir()
    _write(other, tmp_path / "b" / "train.csv", "csv")      # another file of the same name
    assert _prune(tmp_path / "b" / "train.csv") == 2
    assert "the training data" in capsys.readouterr().err
    assert main(["clean", "--profile", "tiny", "--pair", "tiny-bert/train", "--yes"]) == 0
    assert _prune(tmp_path / "b" / "train.csv") == 0        # recomputed on the new data
    assert _results("tiny", "tiny-bert", "train", tmp_path / "b" / "train.csv").runs["phase1/run-0"].done


def test_prune_errors_are_one_line(study_file, tmp_path, capsys):
    study_file()
    assert main(["prune", "--profile", "tiny", "--model", "tiny-bert"]) == 2
    assert "prune needs --task" in capsys.readouterr().err
    path = _write(_reviews(), tmp_path / "r.csv", "csv")
    assert _prune(path, text="body") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no column 'body'; its columns are: 'review_id', 'review', 'stars', 'source'" in err
    for extra, message in ((["--encoding", "latin-9000"], "encoding 'latin-9000'"),
                           (["--train-cap", "5"], "train_cap = 5")):
        assert _prune(path, *extra) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    (tmp_path / "dir.csv").mkdir()
    assert _prune(tmp_path / "dir.csv") == 2 and "is a folder" in capsys.readouterr().err


def test_prune_of_a_task_whose_rows_are_windows_is_one_line_before_training(study_file, capsys, results_dir):
    study_file()
    rc = main(["prune", "--profile", "smoke", "--model", "minilm", "--task", "squad_dev"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "extractive_qa kind scores parts of an example" in err
    assert "score_unit: example" in err and not list(results_dir.rglob("step.json"))


def test_score_runs_phase_1_alone(study_file, capsys):
    study_file()
    assert main(["score", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "tiny-bert/rotten_tomatoes: H histogram H=0:" in out and "remove-0-3" in out
    pair = _results("tiny", "tiny-bert", "rotten_tomatoes")
    assert pair.phase2().empty and len(pair.scores()) == 40


def test_a_hub_dataset_declared_as_data(monkeypatch):
    """The same path as the built-in SST-2/MNLI/SNLI: a Hub dataset, mocked here (no network)."""
    import datasets

    rows = _reviews(30)
    fake = {"train": rows.iloc[:24].to_dict("list"), "dev": rows.iloc[24:].to_dict("list")}
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, **kw: fake)
    spec = parse_spec("hubby", {"hub": {"path": "someone/reviews", "eval": ["dev"]}, "text": "review",
                                "label": "stars"})
    task = declared.declared_task("hubby", spec)
    splits = task.load(0)
    assert task.eval_splits == ("dev",) and set(splits) == {"train", "dev"}
    assert task.label_names == ("bad", "good", "ok")
    assert splits["dev"].ids.tolist() == list(range(6)) and len(splits["train"]) == 24
    assert data.get_task("sst2").declared.hub.path == "nyu-mll/glue"


def test_a_changed_declaration_is_read_again_in_the_same_process(study_file, tmp_path):
    _declare(study_file, tmp_path)
    cfg = config.pair_config("mine", "tiny-bert", "my_reviews")
    assert data.get_task("my_reviews", cfg.declared).label_names == ("bad", "good", "ok")
    study_file(lambda d: d.update(tasks={"my_reviews": {"file": "reviews.csv", "text": "review", "label": "stars",
                                                        "labels": ["ok", "good", "bad"]}}))
    changed = config.pair_config("tiny", "tiny-bert", "my_reviews", listed=False)
    assert data.get_task("my_reviews", changed.declared).label_names == ("ok", "good", "bad")
    assert changed.declared != cfg.declared and changed.to_dict()["declared"]["labels"] == ["ok", "good", "bad"]


def test_a_changed_declaration_makes_the_runs_stale(study_file, tmp_path, capsys):
    """The declaration is part of every run's identity: new label ids are other runs."""
    _declare(study_file, tmp_path)
    assert main(["run", "--profile", "mine", "--stage", "score"]) == 0
    study_file(lambda d: d.update(tasks={"my_reviews": {"file": "reviews.csv", "text": "review", "label": "stars",
                                                        "labels": ["ok", "good", "bad"]}},
                                  profiles={**d["profiles"], "mine": {"extends": "tiny", "pairs": [
                                      {"model": "tiny-bert", "task": "my_reviews"}]}}))
    capsys.readouterr()
    assert main(["run", "--profile", "mine", "--stage", "score"]) == 2
    assert "the task's declaration" in capsys.readouterr().err


def test_a_busy_machine_is_announced_before_training(monkeypatch):
    from hscore.report import prune

    monkeypatch.setattr(prune.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(prune.os, "getloadavg", lambda: (1.9, 1.0, 0.5))
    assert "busy (load average 1.9 on 2 cores)" in prune.busy_warning()
    monkeypatch.setattr(prune.os, "getloadavg", lambda: (0.2, 0.1, 0.1))
    assert prune.busy_warning() is None
