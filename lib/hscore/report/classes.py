"""The ``classes`` profile's answer: does the winning ticket drop a class, and what does the class floor do?

For every pair with ``class_floor`` set and its phase-2 runs done: which class the winning ticket keeps least of
(against its share of the training set; ``hscore.pruning.classes``), how many examples the floor adds back, and
what training on the ticket with the floor instead of the ticket changes in accuracy and in that class's recall,
with 95% paired-bootstrap intervals (``hscore.analysis.fairness.floor_effect``). ``answer`` gives the sentences
(most important first) that ``hscore findings --profile classes`` writes and the fairness chapter shows.
"""

from __future__ import annotations

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
    """What one pair's results say about its classes and the floor; None until its floor runs are done."""
    pair = PairResults(cfg)
    preds = pair.predictions()
    task = get_task(cfg.task, cfg.declared)
    subsets = pair.subsets() if not preds.empty else None
    if subsets is None:
        return None
    ticket = subsets.winning_ticket.name
    effect = floor_effect(preds, ticket, task.label_names)
    if effect.empty:
        return None
    labels = pair.scores()["label"].to_numpy()
    balance = class_balance(labels, {"ticket": subsets.positions("hscore", ticket, 0),
                                     "floor": subsets.positions("floor", ticket, 0)}, task.label_names)
    full, kept, floored = balance.iloc[0], balance.iloc[1], balance.iloc[2]
    present = [n for n, c in zip(task.label_names, range(len(task.label_names))) if (labels == c).any()]
    relative = {n: (kept[f"{n} %"] / full[f"{n} %"]) for n in present}
    least = min(relative, key=relative.get)
    split = effect["split"].iloc[0]
    rows = effect[effect["split"] == split].set_index("measure")
    return {"cfg": cfg, "task": cfg.task, "n": int(full["size"]), "ticket": int(kept["size"]),
            "floor": int(floored["size"]), "least": least, "share": float(full[f"{least} %"]),
            "in_ticket": float(kept[f"{least} %"]), "kept": int(kept[least]), "of": int(full[least]),
            "in_floor": float(floored[f"{least} %"]), "relative": float(relative[least]), "split": split,
            "accuracy": rows.loc["accuracy"], "recall": rows.loc[f"recall {least}"],
            "seeds": int(rows["seeds"].iloc[0]), "examples": int(rows.loc["accuracy", "examples"])}


def answer(profile: str) -> list[tuple[str, list[str]]]:
    """The profile's answer, one entry for all its floor pairs: [(title, sentences)]; [] until every pair's
    floor runs are done."""
    cfgs = floor_configs(profile)
    facts = [pair_facts(c) for c in cfgs]
    if not cfgs or any(f is None for f in facts):
        return []
    worst = min(facts, key=lambda f: f["relative"])
    floor = worst["cfg"].class_floor
    sentences = []
    thinned = [f for f in facts if f["relative"] < 0.5]
    where = "; ".join(f"on {f['task']} class {f['least']!r} ({f['share']:.0f}% of the training set) "
                      + ("vanishes from it" if f["kept"] == 0 else f"falls to {f['in_ticket']:.0f}% of it "
                                                                      f"({f['kept']} of its {f['of']} kept)")
                      for f in thinned)
    sentences.append(f"Without a floor, the winning ticket keeps every class at half its share or more on "
                     f"{', '.join(f['task'] for f in facts if f['relative'] >= 0.5) or 'no pair'}"
                     + (f"; {where}." if thinned else "."))
    sentences.append(
        f"On {worst['task']}, the ticket with class_floor {floor:g} ({worst['floor']} examples instead of "
        f"{worst['ticket']}; class {worst['least']!r} {worst['in_floor']:.0f}% of it) changes the recall of "
        f"{worst['least']!r} by {_interval(worst['recall'])}, {worst['recall']['verdict']}, and accuracy by "
        f"{_interval(worst['accuracy'])}, {worst['accuracy']['verdict']} ({worst['split']}, {worst['seeds']} seeds x "
        f"{worst['examples']} examples, paired bootstrap).")
    sentences.append("The floor against the ticket, accuracy, on every pair: "
                     + "; ".join(f"{f['task']} {_interval(f['accuracy'])}, {f['accuracy']['verdict']}" for f in facts)
                     + ".")
    for f in facts:
        recall, acc = f["recall"], f["accuracy"]
        sentences.append(
            f"{f['task']}: {f['n']} training examples, the ticket {f['ticket']} ({100 * f['ticket'] / f['n']:.0f}%), "
            f"with the floor {f['floor']}; class {f['least']!r}, the one it keeps least of, is {f['share']:.0f}% of "
            f"the training set and {f['in_ticket']:.0f}% of the ticket; its recall: full data "
            f"{recall['full data']:.1f}, ticket {recall['ticket']:.1f}, ticket + floor "
            f"{recall['ticket + floor']:.1f}; accuracy: full data "
            f"{acc['full data']:.1f}, ticket {acc['ticket']:.1f}, ticket + floor {acc['ticket + floor']:.1f}.")
    title = f"{facts[0]['cfg'].model} on {', '.join(f['task'] for f in facts)}"
    return [(title, sentences)]

