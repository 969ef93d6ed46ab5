"""Task kinds behind one interface (``base.TaskKind``), one module each, in one registry.

- ``classification``: one text or a sentence pair -> a class (MNLI, SST-2, SNLI, ...);
- ``extractive_qa``: a question and a context -> an answer span, or none (SQuAD v2);
- ``multiple_choice``: a context, a question and k options -> the right option (RACE).

The training loop, the plan, the tables, the book and ``hscore prune`` ask ``get_kind(task.kind)``
and name no kind. A new kind is a ``TaskKind`` subclass, made known by ``register(kind)`` (in the
process that runs the plan: ``--jobs 1``) or, for every process a study starts (workers, notebook
kernels), by an entry point of the group ``hscore.kinds`` in the package that defines it
(``myproject = "mypackage.kinds:MyKind"``); a task declared as data names it with ``kind:``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ...errors import UnknownNameError
from .base import HEADS, EncodingSettings, Features, StepOutputs, TaskKind
from .classification import Classification
from .extractive_qa import ExtractiveQA
from .multiple_choice import MultipleChoice

KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (Classification(), ExtractiveQA(), MultipleChoice())}


def register(kind: TaskKind) -> TaskKind:
    """Make ``kind`` known by its name (in this process: worker processes import this registry anew)."""
    if not kind.name:
        raise ValueError("a task kind needs a name")
    KINDS[kind.name] = kind
    return kind


ENTRY_POINTS = "hscore.kinds"   # the entry-point group of kinds other packages define


def get_kind(name: str) -> TaskKind:
    """The kind ``name``: registered, or found by its entry point (then registered)."""
    if name not in KINDS:
        found = entry_points(group=ENTRY_POINTS, name=name)
        if not found:
            raise UnknownNameError(f"unknown task kind {name!r}; known: {', '.join(KINDS)} (or register it, or "
                                   f"give it an entry point of the group {ENTRY_POINTS!r})")
        kind = next(iter(found)).load()
        register(kind() if isinstance(kind, type) else kind)
    return KINDS[name]


__all__ = ["HEADS", "KINDS", "EncodingSettings", "Features", "StepOutputs", "TaskKind", "get_kind", "register"]
