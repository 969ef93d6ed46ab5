"""Every training set phase 2 knows, by method name, in one registry: how tables and legends name it, its
colour and marker in every figure, and whether its subset is drawn again for every phase-2 seed.

The baselines come from ``hscore.pruning.baselines.BASELINES`` (their own registry); the others are the
study's: full data, the H-score subsets, the cheaper scoring's ticket, the scoring runs read as full data
(``phase1``), the tickets of changed scoring settings (``moved``), the ticket trained for full data's updates
(``equal_steps``), the ticket with a class floor (``floor``) and full data minus cleanlab's label issues
(``cleanlab``). ``hscore.analysis.tables.METHOD_LABELS`` and ``hscore.report.plots.METHOD_STYLE`` are views
of it, in its order.
"""

from __future__ import annotations

from dataclasses import dataclass

from .baselines import BASELINES


@dataclass(frozen=True)
class Method:
    name: str
    label: str                # as tables and legends show it
    color: str | None = None  # None: drawn as full data is, not with a style of its own
    marker: str | None = None
    per_seed: bool = False    # its subset is drawn again for every phase-2 seed (a random baseline's)


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("full", "full data"),
    Method("hscore", "H-score", "#c0392b", "o"),
    *(Method(b.name, b.label, b.color, b.marker, b.per_seed) for b in BASELINES.values()),
    Method("cheaper", "cheaper ticket", "#c2185b", "*"),
    Method("phase1", "full data (phase-1 runs)"),
    Method("moved", "ticket of a changed scoring setting"),
    Method("equal_steps", "H-score, full data's updates", "#7d3c98", "P"),
    Method("floor", "H-score with class floor", "#16a085", "X"),
    Method("cleanlab", "full data minus cleanlab's issues", "#2471a3", "D"),
)}
