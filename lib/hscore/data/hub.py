"""The paper's tasks from the Hugging Face Hub (``datasets.load_dataset``: the Hub or its cache).

SQuAD v2 and RACE are converted here; the Hub's classification tasks (MNLI, SST-2, SNLI) are
declared as a user's task is (``hscore.data.declared``) and loaded through ``load_hub`` too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import DataUnavailableError, excerpt
from .split import Split


def load_hub(path: str, name: str | None):
    try:
        from datasets import load_dataset  # heavy, and only for Hub tasks: the offline profiles never load it

        return load_dataset(path, name)
    except Exception as e:  # network, missing cache, offline mode
        raise DataUnavailableError(
            f"could not load {path}{'/' + name if name else ''} from the Hugging Face Hub ({type(e).__name__}: "
            f"{excerpt(str(e), 200)}). Hub tasks need network access or a filled HF_DATASETS cache; the offline "
            "profiles (default, smoke, sensitivity, transfer) need neither.") from e


def _hub(path: str, name: str | None, splits: dict[str, str], convert: Callable) -> dict[str, Split]:
    """Load a hub dataset and convert each of its splits (ours -> theirs) with ``convert(part) -> Split``."""
    ds = load_hub(path, name)
    return {ours: convert(ds[theirs]) for ours, theirs in splits.items()}


def _squad(part) -> Split:
    """SQuAD-format QA: question, context, answers (every reference); label 1 when answerable."""
    answers = [{"text": list(a["text"]), "answer_start": [int(x) for x in a["answer_start"]]} for a in part["answers"]]
    answerable = np.array([len(a["text"]) > 0 for a in answers], dtype=np.int64)
    return Split(np.arange(len(answers), dtype=np.int64), answerable,
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
