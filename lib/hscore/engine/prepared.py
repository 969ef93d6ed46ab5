"""A pair's data, prepared once per process: the task's splits, tokenizer and tokenized rows.

``prepare(cfg)`` loads and caps the splits (``hscore.data``), picks the model head the task's kind
trains for the checkpoint, tokenizes every split once and records the data identity that every
run of the pair depends on; ``DataCache`` keeps the last few pairs a process worked on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, PairConfig
from ..data import Split, Task, get_task, pair_splits
from ..data import identity as data_identity
from ..files import array_fingerprint
from . import padding_free
from .checkpoints import max_positions
from .kinds import EncodingSettings, Features, TaskKind, get_kind
from .models import load_model, load_tokenizer, model_type


@dataclass
class PairData:
    """A pair's task, tokenizer, raw and tokenized splits, prepared once per process."""

    cfg: PairConfig
    task: Task
    kind: TaskKind
    head: str                     # the model head trained (hscore.engine.kinds.HEADS)
    tokenizer: object
    splits: dict[str, Split]      # "train" and every evaluation split, as loaded (and capped)
    train: Features               # the training rows
    evals: dict[str, Features]    # the rows of every evaluation split
    identity: dict                # what runs depend on in the data (hscore.data.identity)
    encoding: str                 # fingerprint of the training rows' targets and example ids (recorded)
    trivial: dict[str, dict[str, float]]  # split -> metric -> score of a model that ignores its input

    @property
    def units(self) -> np.ndarray:
        """The example id of every scoring unit: rows (``score_unit: feature``) or examples."""
        if self.cfg.score_unit == "feature":
            return self.train.example_id
        ids, first = np.unique(self.train.example_id, return_index=True)
        return ids[np.argsort(first, kind="stable")]

    def rows(self, units: np.ndarray) -> np.ndarray:
        """The training rows of the scoring units at these positions."""
        if self.cfg.score_unit == "feature":
            return np.asarray(units, dtype=np.int64)
        return np.flatnonzero(np.isin(self.train.example_id, self.units[units]))

    @property
    def num_logits(self) -> int:
        """Logits a training step records per row (0: none, as for extractive QA)."""
        return self.kind.num_logits(self.head, self.task.num_labels)

    def fresh_model(self, seed: int, unpadded: bool | None = None):
        """(model, padding-free?): the pretrained model with a new head initialised by ``seed``,
        padding-free when the pair's ``padding_free`` says so (``unpadded`` overrides it) and its
        architecture allows (``hscore.engine.padding_free``)."""
        model = load_model(self.cfg.checkpoint, self.head, self.num_logits, seed, self.tokenizer.pad_token_id)
        wanted = self.cfg.padding_free if unpadded is None else unpadded
        return model, bool(wanted and padding_free.enable(model))

    def describe(self) -> dict:
        """What the scoring runs see, recorded with each of them."""
        return {"head": self.head, "train_rows": len(self.train), "train_examples": len(self.splits["train"]),
                "labels": list(self.task.label_names), "trivial": self.trivial}


def prepare(cfg: PairConfig) -> PairData:
    """Load, cap and tokenize a pair's splits; pick the head its model trains for the task's kind."""
    task = get_task(cfg.task, cfg.declared)
    kind = get_kind(task.kind)
    splits = pair_splits(task, cfg)
    tokenizer = load_tokenizer(cfg.checkpoint)
    limit = max_positions(cfg.checkpoint)   # known here for Hub checkpoints the plan could not read
    if limit is not None and cfg.max_length > limit:
        raise ConfigError(f"profiles.{cfg.profile} ({cfg.pair}): max_length = {cfg.max_length} is longer than the "
                          f"{limit} positions the model {cfg.checkpoint} has; set max_length to {limit} or less")
    head = kind.head(model_type(cfg.checkpoint))
    settings = EncodingSettings(cfg.max_length, cfg.doc_stride)
    encode = lambda split: kind.encode(split, tokenizer, settings, head)
    train = encode(splits["train"])
    return PairData(
        cfg=cfg, task=task, kind=kind, head=head, tokenizer=tokenizer, splits=splits, train=train,
        evals={name: encode(splits[name]) for name in task.eval_splits},
        identity=data_identity(task, splits), encoding=array_fingerprint(train.targets, train.example_id),
        trivial={name: kind.trivial(splits["train"], splits[name], head, task.metric, **task.eval_options)
                 for name in task.eval_splits},
    )


class DataCache:
    """The prepared data of the last few pairs a process trained, so that the next steps of the same
    pair reuse it (a worker process takes steps of several pairs in turn and owns one of these)."""

    def __init__(self, keep: int = 4):
        self.keep = keep
        self.prepared: dict[PairConfig, PairData] = {}

    def get(self, cfg: PairConfig) -> PairData:
        if cfg not in self.prepared:
            while len(self.prepared) >= self.keep:
                self.prepared.pop(next(iter(self.prepared)))
            self.prepared[cfg] = prepare(cfg)
        return self.prepared[cfg]
