"""The ``classes`` profile's answer: does the winning ticket drop a class, and what does the class floor do?

For every pair with ``class_floor`` set and its phase-2 runs done: which class the winning ticket keeps least of
(against its share of the training set; ``hscore.pruning.classes``), how many examples the floor adds back, and
what training on the ticket with the floor instead of the ticket changes in accuracy and in that class's recall,
with 95% paired-bootstrap intervals (``hscore.analysis.fairness.floor_effect``). ``answer`` gives the sentences
(most important first) that ``hscore findings --profile classes`` writes and the fairness chapter shows.
"""

from __future__ import annotations

import numpy as np

from .. import config
from ..analysis.fairness import floor_effect
from ..data import get_task
from ..pruning.classes import class_balance
from ..study.results import PairResults


def floor_configs(profile: str) -> list:
    """The pairs of ``profile`` that train the ticket with a class floor."""
    return [c for c in config.profile_configs(profile) if c.class_floor is not None]


def _interval(row) -> str:
    return f"{row['floor - ticket']:+.1f} points (95% CI {row['95% CI low']:+.1f} to {row['95% CI high']:+.1f})"


def pair_facts(cfg) -> dict | None:
    """What one pair's results say about its classes and the floor; None until its floor runs are done.
    ``minority``: the class with the smallest share of the training set (whose recall the answer reports);
    ``least``: the class the ticket keeps least of against its share (``relative``: that ratio)."""
    pair = PairResults(cfg)
    preds = pair.predictions()
    if preds.empty:
        return None
    task = get_task(cfg.task, cfg.declared)
    subsets = pair.subsets()
    ticket = subsets.winning_ticket.name
    effect = floor_effect(preds, ticket, task.label_names)
    if effect.empty:
        return None
    labels = pair.scores()["label"].to_numpy()
    positions = {"ticket": subsets.positions("hscore", ticket, 0), "floor": subsets.positions("floor", ticket, 0)}
    balance = class_balance(labels, positions, task.label_names)
    full, kept, floored = balance.iloc[0], balance.iloc[1], balance.iloc[2]
    present = [n for c, n in enumerate(task.label_names) if (labels == c).any()]
    relative = {n: kept[f"{n} %"] / full[f"{n} %"] for n in present}
    least = min(relative, key=relative.get)
    minority = min(present, key=lambda n: full[f"{n} %"])
    split = effect["split"].iloc[0]
    rows = effect[effect["split"] == split].set_index("measure")
    return {"cfg": cfg, "task": cfg.task, "n": int(full["size"]), "ticket": int(kept["size"]),
            "floor": int(floored["size"]), "same": bool(np.array_equal(positions["ticket"], positions["floor"])),
            "least": least, "relative": float(relative[least]), "least_share": float(full[f"{least} %"]),
            "least_in_ticket": float(kept[f"{least} %"]), "least_kept": int(kept[least]),
            "least_of": int(full[least]), "minority": minority, "share": float(full[f"{minority} %"]),
            "in_ticket": float(kept[f"{minority} %"]), "in_floor": float(floored[f"{minority} %"]), "split": split,
            "accuracy": rows.loc["accuracy"], "recall": rows.loc[f"recall {minority}"],
            "seeds": int(rows["seeds"].iloc[0]), "examples": int(rows.loc["accuracy", "examples"])}


def _scores(f: dict) -> str:
    acc, recall = f["accuracy"], f["recall"]
    return (f"accuracy {acc['ticket']:.1f} against {acc['full data']:.1f} for full data, recall of {f['minority']!r} "
            f"{recall['ticket']:.1f} against {recall['full data']:.1f}")


def answer(profile: str) -> list[tuple[str, list[str]]]:
    """The profile's answer, one entry for all its floor pairs: [(title, sentences)]; [] until every pair's
    floor runs are done."""
    cfgs = floor_configs(profile)
    facts = [pair_facts(c) for c in cfgs]
    if not cfgs or any(f is None for f in facts):
        return []
    floor = cfgs[0].class_floor
    thinned = [f for f in facts if f["relative"] < floor]
    kept = [f for f in facts if f["relative"] >= floor]
    parts = [f"the winning ticket keeps every class at {min(f['relative'] for f in kept):.0%} of its share or more on "
             + ", ".join(f["task"] for f in kept)] if kept else []
    parts += [f"on {f['task']} class {f['least']!r} ({f['least_share']:.0f}% of the training set) "
              + ("vanishes from the winning ticket" if f["least_kept"] == 0 else
                 f"falls to {f['least_in_ticket']:.0f}% of the winning ticket ({f['least_kept']} of its "
                 f"{f['least_of']} kept)") for f in thinned]
    first = "Without a floor, " + "; ".join(parts)
    sentences = [first + "."]
    acted = [f for f in facts if not f["same"]]
    if acted:
        sentences += [
            f"On {f['task']}, the ticket with class_floor {floor:g} ({f['floor']} examples instead of {f['ticket']}; "
            f"{f['minority']!r} {f['in_floor']:.0f}% of it, {f['in_ticket']:.0f}% of the ticket) changes the recall of "
            f"{f['minority']!r} by {_interval(f['recall'])}, {f['recall']['verdict']}, and accuracy by "
            f"{_interval(f['accuracy'])}, {f['accuracy']['verdict']} ({f['split']}, {f['seeds']} seeds x "
            f"{f['examples']} examples, paired bootstrap)." for f in acted]
    for f in facts:
        if f["recall"]["ticket"] < 1 <= f["recall"]["full data"]:
            sentences.append(
                f"On {f['task']} ({f['share']:.0f}% {f['minority']!r}) the ticket holds {f['ticket']} of {f['n']} "
                f"examples ({100 * f['ticket'] / f['n']:.0f}%) and its models never predict {f['minority']!r}: "
                f"{_scores(f)}; the ticket fails there without dropping the class, which a class floor does not touch.")
    for f in facts:
        if f["recall"]["full data"] < 1:
            sentences.append(
                f"On {f['task']} ({f['share']:.0f}% {f['minority']!r}) not even full data's models predict "
                f"{f['minority']!r} (recall {f['recall']['full data']:.1f}; the ticket {f['ticket']} of {f['n']} "
                f"examples, {100 * f['ticket'] / f['n']:.0f}%): at this size and share no training set here learns "
                "the class, and no subset of it can.")
    idle = [f["task"] for f in facts if f["same"]]
    if idle:
        sentences.append(f"On {', '.join(idle)} the floor {floor:g} adds nothing (no class below {floor:.0%} of its "
                         "share), so there its runs are the ticket's.")
    for f in facts:
        sentences.append(f"{f['task']}: {f['n']} training examples, the ticket {f['ticket']} "
                         f"({100 * f['ticket'] / f['n']:.0f}%), with the floor {f['floor']}; {f['minority']!r} is "
                         f"{f['share']:.0f}% of the training set and {f['in_ticket']:.0f}% of the ticket; "
                         f"{_scores(f)} ({f['split']}).")
    title = f"{facts[0]['cfg'].model} on {', '.join(f['task'] for f in facts)}"
    return [(title, sentences)]
