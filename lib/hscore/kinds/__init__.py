"""Task kinds behind one interface (``base.TaskKind``), one module each, in one registry.

- ``classification``: one text or a sentence pair -> a class (MNLI, SST-2, SNLI, ...);
- ``extractive_qa``: a question and a context -> an answer span, or none (SQuAD v2);
- ``multiple_choice``: a context, a question and k options -> the right option (RACE).

The training loop, the study and the tables ask ``get_kind(task.kind)`` and name no kind.
"""

from __future__ import annotations

from ..errors import UnknownNameError
from .base import HEADS, EncodingSettings, Features, StepOutputs, TaskKind
from .classification import Classification
from .extractive_qa import ExtractiveQA
from .multiple_choice import MultipleChoice

KINDS: dict[str, TaskKind] = {
    "classification": Classification(),
    "extractive_qa": ExtractiveQA(),
    "multiple_choice": MultipleChoice(),
}


def get_kind(name: str) -> TaskKind:
    if name not in KINDS:
        raise UnknownNameError(f"unknown task kind {name!r}; known: {', '.join(KINDS)}")
    return KINDS[name]


__all__ = ["HEADS", "KINDS", "EncodingSettings", "Features", "StepOutputs", "TaskKind", "get_kind"]
