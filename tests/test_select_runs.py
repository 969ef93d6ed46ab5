"""Selection from runs recorded anywhere: ``hscore.select([...])``, ``hscore select RUN_DIR...``, the checks that
the runs can be stacked (each failure one line), and the scores and subsets as ``datasets.Dataset``s.

The runs are real Hugging Face Trainer runs through the recorder (a random 2-layer BERT, CPU, seconds), and the
study's own scoring runs of the tiny profile."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import datasets
import numpy as np
import pandas as pd
import pytest
from transformers import DataCollatorWithPadding

import hscore
import trainer_fixtures as tf
from hscore import paths
from hscore.__main__ import main
from hscore.dynamics import TrainingDynamics
from hscore.engine.recorder import DynamicsRecorder, RecordingTrainer
from hscore.errors import ConfigError
from hscore.files import atomic_save_npz
from hscore.pruning.scores import SCORE_COLUMNS, h_score, scores_table
from hscore.pruning.subsets import hscore_subset, subset_family
from hscore.records import RECORD_HASH, file_entry, record_sha256
from hscore.study import executors, plan, selection
from hscore.study.select_runs import RunsMismatchError, select

PAD = lambda: DataCollatorWithPadding(tf.tokenizer())
SEEDS = (11, 12, 13)


def record(folder, data, seed, kind="classification", collator=None, model=None, **argkw):
    """One real Trainer run through the recorder; returns its run folder."""
    trainer = RecordingTrainer(model=model or tf.tiny_model(seed=seed), args=tf.args(folder.parent / f"{folder.name}-t",
                                                                                    seed=seed, **argkw),
                               train_dataset=data, data_collator=collator or PAD(), processing_class=tf.tokenizer(),
                               dynamics=DynamicsRecorder(kind, output_dir=folder))
    trainer.train()
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three recorded runs (seeds 11, 12, 13) of 2 epochs on 40 sentence pairs with text columns kept."""
    root = tmp_path_factory.mktemp("runs")
    data = tf.classification_data(40)
    return root, data, [record(root / f"run-{s}", data, s) for s in SEEDS]


def test_select_stacks_the_runs_and_computes_the_studys_selection(runs):
    root, data, folders = runs
    chosen = hscore.select(folders)
    dyn = TrainingDynamics.load(folders, SEEDS)
    assert chosen.dynamics.seeds == SEEDS                      # from each run's step.json, in the order given
    assert np.array_equal(chosen.dynamics.correct, dyn.correct)
    h = h_score(dyn.correct)
    assert np.array_equal(chosen.scores["h"], h) and np.array_equal(chosen.scores["example_id"], data["idx"])
    pd.testing.assert_frame_equal(chosen.scores, scores_table(dyn))
    assert chosen.histogram().tolist() == np.bincount(h, minlength=4).tolist()
    ticket = subset_family(3)[0]
    assert np.array_equal(chosen.positions(), hscore_subset(h, ticket)) and len(chosen.positions()) > 0
    assert np.array_equal(chosen.positions("winning_ticket"), chosen.positions(ticket.name))
    # the baselines, drawn as the study draws them (random: per phase-2 seed)
    same = selection.select(dyn, baselines=("random", "ambiguous"), phase2_seeds=(6666,), name="x")
    assert same.subsets.indices.keys() == chosen.subsets.indices.keys()
    for key, positions in same.subsets.indices.items():
        assert np.array_equal(chosen.subsets.indices[key], positions), key
    assert len(chosen.positions(method="random")) == len(chosen.positions())
    assert chosen.notes == chosen.warnings   # the class warnings only (test_a_class_the_ticket_drops_...)


def test_to_dataset_keeps_every_column_and_round_trips_through_save_to_disk(runs, tmp_path):
    _, data, folders = runs
    chosen = hscore.select(folders, baselines=("random", "ambiguous", "el2n_train_step"), phase2_seeds=(1, 2))
    scored = chosen.to_dataset(data)
    assert scored.column_names == data.column_names + [f"hscore_{c}" for c in chosen.score_columns] + [
        "hscore_winning_ticket"]
    assert {"h", "el2n_train_step", "aum"} <= set(chosen.score_columns) and "el2n" not in chosen.score_columns
    # every score scores_table writes that these runs give a value (no eval pass; 2 epochs: no Dynamic Uncertainty)
    assert set(chosen.score_columns) == set(SCORE_COLUMNS) - {"el2n", "dynamic_uncertainty"}
    for column in data.column_names:                          # every original column, row for row
        assert scored[column] == data[column]
    assert scored["hscore_h"] == chosen.scores["h"].tolist()
    np.testing.assert_allclose(scored["hscore_variability"], chosen.scores["variability"])
    assert sum(scored["hscore_winning_ticket"]) == len(chosen.positions())
    again = chosen.to_dataset(scored)                         # hscore's own columns are replaced, not refused
    assert again.column_names == scored.column_names and again[:] == scored[:]
    scored.save_to_disk(tmp_path / "scored")
    back = datasets.load_from_disk(str(tmp_path / "scored"))
    assert back.column_names == scored.column_names and back[:] == scored[:]
    ticket = chosen.subset_dataset(data)                      # a Dataset.select view, in the data's order
    assert ticket["idx"] == [data["idx"][i] for i in chosen.positions()]
    assert ticket["sentence1"] == [data["sentence1"][i] for i in chosen.positions()]
    assert all(ticket["hscore_winning_ticket"])
    ticket.save_to_disk(tmp_path / "ticket")
    assert datasets.load_from_disk(str(tmp_path / "ticket"))[:] == ticket[:]
    views = chosen.subset_datasets(data)
    assert set(views) == {"winning_ticket"} | {k.split("/", 1)[1] if k.startswith("hscore/") else k
                                               for k in chosen.subsets.indices}
    assert views["random/remove-0-3/2"]["idx"] == [data["idx"][i] for i in chosen.positions(method="random", seed=2)]
    assert views["el2n_train_step/remove-0-3/1"].num_rows == views["remove-0-3"].num_rows == ticket.num_rows


def test_to_dataset_of_a_shuffled_training_set_follows_its_rows(tmp_path):
    """A training set with an indices mapping (shuffle, train_test_split): the rows are its rows, in its order."""
    data = tf.classification_data(32, seed=4).shuffle(seed=3)
    folders = [record(tmp_path / f"run-{s}", data, s, num_train_epochs=1) for s in (1, 2)]
    chosen = hscore.select(folders)
    scored = chosen.to_dataset(data)
    assert scored["idx"] == data["idx"] == chosen.scores["example_id"].tolist()
    by_id = dict(zip(chosen.scores["example_id"], chosen.scores["h"]))
    resorted = chosen.to_dataset(data.flatten_indices().sort("idx"))   # matched by the id column, not position
    assert resorted["hscore_h"] == [by_id[i] for i in resorted["idx"]] and resorted["idx"] == sorted(data["idx"])
    with pytest.raises(RunsMismatchError, match="1 of the dataset's 32 rows have an example id .'idx'. the runs did "
                                                "not record .first: 5."):
        chosen.to_dataset(data.map(lambda r, i: {"idx": 5 if i == 0 else r["idx"]}, with_indices=True))


def test_extractive_qa_per_example_matches_windows_and_examples(tmp_path):
    """QA windows recorded per row; selected per example (a question is right when all its windows are); the
    scores go onto the windows and onto a dataset of the questions alike, by the string example id."""
    windows = tf.qa_data(12)
    folders = [record(tmp_path / f"run-{s}", windows, s, kind="extractive_qa", model=tf.tiny_model("extractive_qa", s),
                      learning_rate=2e-3, num_train_epochs=3) for s in (1, 2, 3)]
    with pytest.raises(Exception, match="ranks by recorded logits"):
        hscore.select(folders, baselines=("el2n",), score_unit="example")
    chosen = hscore.select(folders, baselines=("ambiguous",), score_unit="example")
    keys = chosen.keys
    assert keys == list(dict.fromkeys(windows["example_id"])) and len(chosen.scores) == len(keys)
    dyn = TrainingDynamics.load(folders, (1, 2, 3)).by_example()
    assert np.array_equal(chosen.scores["h"], h_score(dyn.correct))
    on_windows = chosen.to_dataset(windows)
    by_key = dict(zip(keys, chosen.scores["h"]))
    assert on_windows["hscore_h"] == [by_key[k] for k in windows["example_id"]]
    questions = datasets.Dataset.from_dict({"example_id": keys[::-1], "question": [f"q{i}" for i in range(len(keys))]})
    on_questions = chosen.to_dataset(questions)
    assert on_questions["hscore_h"] == [by_key[k] for k in keys[::-1]]
    assert on_questions["question"] == questions["question"]
    with pytest.raises(RunsMismatchError, match="select with score_unit='example'"):
        hscore.select(folders, baselines=()).to_dataset(questions)
    with pytest.raises(RunsMismatchError, match="not hold the recorded example ids in the recorded order"):
        hscore.select(folders, baselines=()).to_dataset(windows.select(range(len(windows))[::-1]))


def test_hscore_select_on_the_studys_runs_writes_the_studys_select_files(study_file, tmp_path):
    """The study's scoring runs given to ``hscore select`` with the pair's settings: the same bytes as the
    study's own select step (scores, subsets and their table)."""
    study_file(lambda d: d["profiles"]["tiny"]["settings"].update(
        baselines=["random", "ambiguous", "forgetting", "el2n", "dynamic_uncertainty_all_windows", "ccs"],
        cheaper_ticket=0.8, el2n_epoch=1))
    built = plan.build("tiny")
    executors.run(built, stages=("score", "select"))
    cfg = built.configs[0]
    folders = [paths.phase1_run_dir(cfg.results_dir, r) for r in range(cfg.runs)]
    out = tmp_path / "chosen"
    argv = ["select", *map(str, folders), "--out", str(out), "--baselines", *cfg.baselines, "--phase2-seeds",
            *map(str, cfg.phase2.seeds), "--cheaper-ticket", "0.8"]
    assert main(argv) == 0
    for name in (paths.SCORES_FILE, *paths.SUBSETS_FILES):
        assert (out / name).read_bytes() == (paths.select_dir(cfg.results_dir) / name).read_bytes(), name
    record = json.loads((out / "step.json").read_text())
    assert record["identity"]["runs"] == [json.loads((f / "step.json").read_text())["identity_hash"] for f in folders]
    assert json.loads((out / "runs.json").read_text())["seeds"] == list(cfg.phase1.seeds)
    default = folders[0].parent / "select"                     # without --out: select/ beside the runs
    assert main(["select", *map(str, folders)]) == 0 and (default / paths.SCORES_FILE).exists()


def test_the_command_prints_the_histogram_and_the_subsets(runs, tmp_path, capsys):
    _, _, folders = runs
    assert main(["select", *map(str, folders), "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    chosen = select(folders)
    assert "3 runs x 2 epochs, 40 rows: H histogram " + ", ".join(
        f"H={h}: {n}" for h, n in chosen.histogram().items()) in out
    assert "remove-0-3" in out and str(tmp_path / "s") in out
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["runs.json", "scores.parquet", "step.json",
                                                                   "subsets.json", "subsets.npz"]


# --- runs that cannot be stacked: one line each ---------------------------------------------------------------

def _edit_npz(folder, **changes):
    """Rewrite a run's dynamics.npz with some arrays changed, and its step.json's checksum with it (a run that
    was recorded that way, not a corrupted one)."""
    path = folder / paths.RUN_FILE
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    for key, change in changes.items():
        arrays[key] = change(arrays[key])
    atomic_save_npz(path, **arrays)
    record = json.loads((folder / "step.json").read_text())
    record["files"][paths.RUN_FILE] = file_entry(path)
    record[RECORD_HASH] = record_sha256(record)
    (folder / "step.json").write_text(json.dumps(record))


def _flip(a):
    a = a.copy()
    a[5] = (a[5] + 1) % 3
    return a


CASES = {
    "fewer rows": (lambda f, tmp: record(tmp / "other", tf.classification_data(42), 12), "were recorded on different "
                   "training sets: 42 rows against 40"),
    "other examples": (lambda f, tmp: record(tmp / "other", tf.classification_data(40, id_offset=2000), 12),
                       "cover other examples: their example ids differ at 40 of 40 rows, first row 0: 2000 against "
                       "1000"),
    "other labels": (lambda f, tmp: _copy_edit(f, tmp, label=_flip, target=_flip), "give the same examples other "
                     "labels: 1 of 40 rows, first row 5"),
    "other epochs": (lambda f, tmp: record(tmp / "other", tf.classification_data(40), 12, num_train_epochs=1),
                     "recorded 1 and 2 epochs"),
    "twice": (lambda f, tmp: f[0], "is given twice"),
    "unfinished": (lambda f, tmp: _unfinished(f, tmp), "has no readable step.json"),
    "not a run": (lambda f, tmp: tmp, "holds no dynamics.npz"),
    "changed file": (lambda f, tmp: _corrupt(f, tmp), "dynamics.npz does not match the checksum written with it"),
}


def _copy(folders, tmp):
    target = tmp / "other"
    shutil.copytree(folders[1], target)
    return target


def _copy_edit(folders, tmp, **changes):
    target = _copy(folders, tmp)
    _edit_npz(target, **changes)
    return target


def _unfinished(folders, tmp):
    target = _copy(folders, tmp)
    (target / "step.json").unlink()
    return target


def _corrupt(folders, tmp):
    target = _copy(folders, tmp)
    raw = bytearray((target / paths.RUN_FILE).read_bytes())
    raw[-30] ^= 0xFF
    (target / paths.RUN_FILE).write_bytes(bytes(raw))
    return target


@pytest.mark.parametrize("case", CASES)
def test_runs_that_cannot_be_stacked_are_one_line(runs, tmp_path, capsys, case):
    _, _, folders = runs
    make, expected = CASES[case]
    other = make(folders, tmp_path)
    with pytest.raises(RunsMismatchError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        hscore.select([folders[0], other])
    assert main(["select", str(folders[0]), str(other), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hscore: error: ") and err.count("\n") == 1 and expected in err
    assert not (tmp_path / "out").exists()


def test_one_run_and_other_bad_settings_are_one_line(runs, tmp_path, capsys):
    _, _, folders = runs
    assert main(["select", str(folders[0])]) == 2
    assert "needs at least 2 recorded runs; got 1" in capsys.readouterr().err
    assert main(["select", *map(str, folders), "--baselines", "nope"]) == 2
    assert "unknown baseline 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:   # argparse's usage error, as for any unknown argument
        main(["plan", str(folders[0])])
    assert stopped.value.code == 2 and "RUN_DIR arguments are for `hscore select`" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown subset 'remove-9'"):
        select(folders).positions("remove-9")


def test_runs_on_other_rows_are_refused_unless_asked(runs, tmp_path, capsys):
    """Two runs on the same ids and labels, one with its texts tokenised shorter, one on other texts: refused,
    one line naming how many rows differ and the first; stacked with a note when the user says so."""
    _, data, folders = runs
    tokens = ("input_ids", "token_type_ids", "attention_mask")
    short = record(tmp_path / "short", data.map(lambda r: {k: v[:8] for k, v in r.items() if k in tokens}), 12)
    texts = record(tmp_path / "texts", data.map(lambda r, i: {"sentence1": r["sentence1"] + " !" if i % 4 == 1
                                                               else r["sentence1"]}, with_indices=True), 12)
    with pytest.raises(RunsMismatchError, match=r"were recorded on other training data: \d+ of 40 training rows "
                                                r"differ \(first: row 0, in 'attention_mask', 'input_ids'"):
        select([folders[0], short])
    with pytest.raises(RunsMismatchError, match=r"10 of 40 training rows differ \(first: row 1, in 'sentence1'\)"):
        select([folders[0], texts])
    assert main(["select", str(folders[0]), str(texts), "--out", str(tmp_path / "o")]) == 2
    assert "--allow-other-data" in capsys.readouterr().err
    chosen = select([folders[0], texts], allow_other_data=True)
    assert len(chosen.notes) == 1 + len(chosen.warnings) and "10 of 40 training rows differ" in chosen.notes[0]
    assert "stacked as asked" in chosen.notes[0]
    assert main(["select", str(folders[0]), str(texts), "--allow-other-data", "--out", str(tmp_path / "o")]) == 0


def test_a_dataset_other_than_the_recorded_one_is_one_error(runs):
    """to_dataset / subset_dataset take only the recorded rows: another sample of the same size, the training
    set shuffled (no id column to follow), labels that contradict the recorded ones: one line each."""
    _, data, folders = runs
    chosen = select(folders)
    plain = data.remove_columns("idx")               # no id column: rows are matched by position
    other = tf.classification_data(80).remove_columns("idx").select(range(40, 80))
    with pytest.raises(RunsMismatchError, match=r"the dataset is not the one the runs were recorded on: \d+ of its "
                                                r"40 rows differ from the recorded rows \(first: row 0, in "):
        chosen.subset_dataset(plain.shuffle(seed=1))
    with pytest.raises(RunsMismatchError, match="the dataset is not the one the runs were recorded on"):
        chosen.to_dataset(other)
    relabelled = plain.map(lambda r, i: {"label": (r["label"] + 1) % 3 if i == 7 else r["label"]}, with_indices=True)
    with pytest.raises(RunsMismatchError, match=r"1 of its 40 rows differ from the recorded rows \(first: row 7, in "
                                                r"'label'\)"):
        chosen.subset_dataset(relabelled)
    unhashed = dataclasses.replace(chosen, runs=[dataclasses.replace(r, hashes=None) for r in chosen.runs])
    with pytest.raises(RunsMismatchError, match=r"1 of its 40 rows have another 'label' \(first: row 7, "):
        unhashed.subset_dataset(relabelled)             # runs without row hashes (the study's): labels still checked
    assert chosen.subset_dataset(plain)["sentence1"] == [data["sentence1"][i] for i in chosen.positions()]
    raw = plain.select_columns(["sentence1", "sentence2", "label"])   # the texts before tokenising: checked too
    assert chosen.subset_dataset(raw).num_rows == len(chosen.positions())
    with pytest.raises(RunsMismatchError, match=r"rows differ from the recorded rows \(first: row 0, in .*'sentence1'"):
        chosen.subset_dataset(raw.shuffle(seed=2))


def test_the_users_own_columns_always_survive(tmp_path):
    """A training set with its own ``confidence`` and ``h`` columns (annotator agreement, ...): kept as they
    are; hscore's columns are ``hscore_...``."""
    data = tf.classification_data(32, seed=4)
    data = data.add_column("confidence", [0.5 + i / 100 for i in range(32)]).add_column("h", list(range(32)))
    folders = [record(tmp_path / f"run-{s}", data, s, num_train_epochs=1) for s in (1, 2)]
    chosen = hscore.select(folders)
    scored = chosen.to_dataset(data)
    assert scored["confidence"] == data["confidence"] and scored["h"] == data["h"]
    assert scored["hscore_h"] == chosen.scores["h"].tolist()
    np.testing.assert_allclose(scored["hscore_confidence"], chosen.scores["confidence"])
    assert chosen.subset_dataset(data)["confidence"] == [data["confidence"][i] for i in chosen.positions()]


def test_a_class_the_ticket_drops_is_warned_and_the_floor_keeps_it(runs, tmp_path, capsys):
    """The tiny runs leave classes 1 and 2 out of the winning ticket (every example H = 0): a warning per
    class in Python (UserWarning, ``warnings``) and on the command line; ``class_floor`` adds each back
    to at least that fraction of its share, by correctness, and the ticket handed out is then the floor's."""
    _, data, folders = runs
    with pytest.warns(UserWarning) as caught:
        chosen = select(folders, label_names=["a", "b", "c"])
    labels = np.asarray(data["label"])
    ticket = chosen.positions()
    dropped = [c for c in range(3) if not (labels[ticket] == c).any()]
    assert dropped and len(chosen.warnings) == len(dropped) == len(caught)
    assert chosen.notes == chosen.warnings == [str(w.message) for w in caught]
    for c, line in zip(dropped, chosen.warnings):
        assert line.startswith(f"class {'abc'[c]!r} ({100 * (labels == c).mean():.1f}% of the 40 training examples) "
                               f"vanishes from the winning ticket (0 of its {(labels == c).sum()} examples kept")
    floored = select(folders, class_floor=0.5)
    kept = floored.positions()                                 # the floor's ticket by default
    assert np.array_equal(floored.positions(method="hscore"), ticket) and set(ticket) <= set(kept)
    correctness = floored.scores["correctness"].to_numpy()
    for c in range(3):                                         # at least half its share of the ticket returned
        assert (labels[kept] == c).mean() >= 0.5 * (labels == c).mean() - 1e-9
        added = np.setdiff1d(kept, ticket)[labels[np.setdiff1d(kept, ticket)] == c]
        left = np.setdiff1d(np.flatnonzero(labels == c), kept)
        if len(added) and len(left):                           # the class's best-learned examples came back first
            assert correctness[added].min() >= correctness[left].max()
    assert floored.subset_dataset(data)["idx"] == [data["idx"][i] for i in kept]
    assert "with class floor" in floored.table().columns
    assert main(["select", *map(str, folders), "--out", str(tmp_path / "s"), "--class-floor", "0.5",
                 "--label-names", "a", "b", "c"]) == 0
    out = capsys.readouterr().out
    assert out.count("hscore: warning: class ") == len(dropped) and "class_floor = 0.5 adds its examples back" in out
    with np.load(tmp_path / "s" / "subsets.npz") as f:
        assert np.array_equal(f["floor|remove-0-3"], kept)
    with pytest.raises(ConfigError, match="class_floor = 2"):
        select(folders, class_floor=2)


def _code_blocks(language: str) -> list[str]:
    """The fenced code blocks of the book page *Score your own Trainer run* (``notebooks/trainer.ipynb``)."""
    nb = json.loads((paths.NOTEBOOKS / "trainer.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_pages_five_lines_work_as_written(tmp_path, monkeypatch):
    """The page's code, run as it stands on a user's script: its recorder lines once per seed, its
    ``hscore select`` line in a shell, its Python lines for the ticket as a Dataset."""
    script, select_in_python = _code_blocks("python")
    (command,) = _code_blocks("bash")
    monkeypatch.chdir(tmp_path)
    train = tf.classification_data(40)
    seeds = [int(s) for s in re.search(r"for s in \(([\d, ]+)\)", select_in_python).group(1).split(",")]
    for seed in seeds:   # the user's script, run once per seed, with the recorder lines in it
        namespace = {"model": tf.tiny_model(seed=seed), "args": tf.args(tmp_path / f"t-{seed}", seed=seed),
                     "train": train, "collator": PAD()}
        exec(script, namespace)
        assert (tmp_path / "runs" / f"run-{seed}" / "step.json").exists()
    shell = command.split("#")[0].strip()
    assert shell.startswith("hscore select ")
    done = subprocess.run(f"{sys.executable} -m {shell}", shell=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(paths.REPO / "lib")})
    assert done.returncode == 0, done.stderr
    assert "6 runs x 2 epochs, 40 rows: H histogram" in done.stdout
    assert (tmp_path / "runs" / "select" / "scores.parquet").exists()
    namespace = {"train": train}
    exec(select_in_python, namespace)
    ticket = datasets.load_from_disk(str(tmp_path / "ticket"))
    chosen = namespace["chosen"]
    assert ticket["idx"] == [train["idx"][i] for i in chosen.positions()] and ticket.num_rows > 0
    assert set(train.column_names) < set(ticket.column_names) and all(ticket["hscore_winning_ticket"])


def test_the_page_lists_the_columns_and_the_api_as_they_are():
    """*Score your own Trainer run* names every column ``to_dataset`` can add (``SCORE_COLUMNS``, derived from
    ``scores_table``) and only those, and every attribute of the selection it names exists."""
    from hscore.study.select_runs import Selected

    nb = json.loads((paths.NOTEBOOKS / "trainer.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert set(re.findall(r"`hscore_(\w+)`", text)) == set(SCORE_COLUMNS) | {"winning_ticket"}
    named = set(re.findall(r"`(?:chosen\.)?(\w+)", text))
    for name in ("scores", "histogram", "table", "class_balance", "warnings", "notes", "positions", "to_dataset",
                 "subset_datasets", "subset_dataset", "write"):
        assert name in named and (hasattr(Selected, name) or name in Selected.__dataclass_fields__), name


def test_row_hashes_read_in_chunks_are_the_whole_columns_hashes():
    from hscore.files import dataset_row_hashes, row_hashes

    data = tf.classification_data(40)
    columns = ["sentence1", "label", "input_ids"]
    whole = row_hashes(data.select_columns(columns).with_format(None)[:])
    chunked = dataset_row_hashes(data.shuffle(seed=5).flatten_indices().sort("idx"), columns, chunk=7)
    assert all(np.array_equal(whole[c], chunked[c]) for c in columns)
    assert len(np.unique(whole["sentence1"])) == 40 and whole["label"].dtype == np.uint64
    assert row_hashes({"x": [[1, 2], np.array([1, 2]), "1", 1]})["x"].tolist()[:2] == [row_hashes({"x": [[1, 2]]})[
        "x"][0]] * 2                                            # a list and an array of the same values hash alike
