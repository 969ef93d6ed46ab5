"""``Task``: what the study needs to know of a task, whatever its data comes from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .split import Split

if TYPE_CHECKING:
    from .noise import LabelNoise


class Declaration(Protocol):
    """What a task keeps of its declaration as data (``hscore.data.declared.TaskSpec``, which imports this
    module to build its tasks): what a run's result depends on in it."""

    def identity(self) -> dict: ...


@dataclass(frozen=True)
class Task:
    """A task: its kind, labels, metric, evaluation splits and how to load its data."""

    name: str
    kind: str                               # a name in hscore.engine.kinds.KINDS
    label_names: tuple[str, ...]            # classes; options (multiple choice); unanswerable/answerable (QA)
    metric: str                             # the headline metric: a name in hscore.metrics.METRICS
                                            # (classification), "accuracy" (multiple choice), "f1" (QA)
    eval_splits: tuple[str, ...]            # the evaluation splits reported, in order; the paper's first
    load: Callable[[int], dict[str, Split]]  # data_seed -> {"train": ..., each eval split: ...}
    source: str                              # where the data comes from, for the book
    eval_options: dict = field(default_factory=dict)  # kind-specific evaluation options (QA: null_answers)
    declared: Declaration | None = None      # the declaration of a task declared as data (hscore.data.declared)
    missing: Callable[[], str] | None = None  # '' when its data can be had, else one line saying what it needs;
                                              # cheap, asked before anything trains (None: not checkable)
    label_noise: LabelNoise | None = None    # a share of the training labels flipped after the cap (hscore.data.noise)

    def data_problem(self) -> str:
        """'' when the task's data can be loaded here, as far as a cheap check can tell, else what it needs."""
        return self.missing() if self.missing is not None else ""

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def identity(self) -> dict:
        """What a run's result depends on in the task beyond its data's content: its name, kind and
        labels, a declared task's declaration and the label noise planted in its training split."""
        out = {"name": self.name, "kind": self.kind, "labels": list(self.label_names),
               "declared": None if self.declared is None else self.declared.identity()}
        if self.label_noise is not None:   # absent without: runs made before it keep their identity
            out["label_noise"] = self.label_noise.model_dump()
        return out
